package teach

import (
	"context"
	"fmt"
	"image"
	"math"
	"strings"
	"sync"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
)

// DefaultBurst is how many frames one press of a class key records: about
// two seconds of a 30 fps camera.
const DefaultBurst = 60

// Keys is teaching from `rpscam live`'s window: a number key records a
// burst of frames of that class (1 the first class), t trains and swaps the
// taught model in (in the background: frames keep coming), 0 returns to the
// shipped model. Its state is drawn on each frame and said on log. Key,
// RawFrame and Consume run on the pipeline's output goroutine.
type Keys struct {
	t     *Teacher
	burst int
	log   func(string)
	ctx   context.Context
	wg    sync.WaitGroup

	class string // the class a burst records; "" when none runs
	left  int    // frames still to record in the burst

	mu     sync.Mutex      // guards status and busy, which the training goroutine sets, and banner
	banner *overlay.Drawer // draws the state; made on the first Consume, released by Close
	status string
	busy   bool
}

// NewKeys teaches through t; burst is the frames a class key records (0:
// DefaultBurst). Cancelling ctx stops a training; Close waits for it.
func NewKeys(ctx context.Context, t *Teacher, burst int, log func(string)) *Keys {
	if burst <= 0 {
		burst = DefaultBurst
	}
	if log == nil {
		log = func(string) {}
	}
	return &Keys{t: t, burst: burst, log: log, ctx: ctx}
}

// Help is the one line naming the keys.
func (k *Keys) Help() string {
	var keys []string
	for i, c := range k.t.Classes() {
		keys = append(keys, fmt.Sprintf("%d %s", i+1, c))
	}
	return fmt.Sprintf("teach keys: %s (record %d frames), t train and swap, 0 shipped model", strings.Join(keys, ", "), k.burst)
}

func (k *Keys) setStatus(s string) {
	// The log line is prefixed by the caller; this package's errors name it.
	s = strings.TrimPrefix(s, "teach: ")
	k.mu.Lock()
	k.status = s
	k.mu.Unlock()
	k.log(s)
}

// Key handles a key press; it reports whether the key was a teach key.
func (k *Keys) Key(key int) bool {
	classes := k.t.Classes()
	switch {
	case key >= '1' && key < '1'+min(len(classes), 9):
		k.class, k.left = classes[key-'1'], k.burst
		k.setStatus(fmt.Sprintf("recording %s: %d frames", strings.ToUpper(k.class), k.burst))
	case key == 't' || key == 'T':
		k.train()
	case key == '0':
		k.background("back to the shipped model", func() (string, error) {
			return "shipped model in use", k.t.Reset()
		})
	default:
		return false
	}
	return true
}

// train starts a training unless one runs.
func (k *Keys) train() {
	k.background("training", func() (string, error) {
		res, err := k.t.Train(k.ctx, func(p Progress) {
			k.mu.Lock()
			if p.Total > 0 {
				k.status = fmt.Sprintf("training: %s %d%%", p.Stage, 100*p.Done/p.Total)
			}
			k.mu.Unlock()
		})
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("taught model in use (%s)", res.Took.Round(1e8))
		if res.HeldOut > 0 && !math.IsNaN(res.After) {
			msg = fmt.Sprintf("taught model in use: held-out %.0f%% -> %.0f%% (%s)", 100*res.Before, 100*res.After, res.Took.Round(1e8))
		}
		return msg, nil
	})
}

// background runs job off the frame path, one at a time.
func (k *Keys) background(what string, job func() (string, error)) {
	k.mu.Lock()
	if k.busy {
		k.mu.Unlock()
		k.log("busy: wait for the training (or reset) to finish")
		return
	}
	k.busy = true
	k.mu.Unlock()
	k.setStatus(what + "…")
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		msg, err := job()
		if err != nil {
			msg = err.Error()
		}
		k.mu.Lock()
		k.busy = false
		k.mu.Unlock()
		k.setStatus(msg)
	}()
}

// RawFrame records the frame while a burst runs.
func (k *Keys) RawFrame(frame gocv.Mat, roi image.Rectangle) {
	if k.left == 0 {
		return
	}
	if err := k.t.AddSample(k.class, frame, roi); err != nil {
		k.left = 0
		k.setStatus(err.Error())
		return
	}
	k.left--
	if k.left == 0 {
		k.setStatus(fmt.Sprintf("%s: %d samples (t to train)", strings.ToUpper(k.class), k.t.Counts()[k.class]))
	}
}

// Consume draws the teaching state on the frame.
func (k *Keys) Consume(a *pipeline.Annotated) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	status := k.status
	if k.left > 0 {
		status = fmt.Sprintf("recording %s: %d/%d", strings.ToUpper(k.class), k.burst-k.left, k.burst)
	}
	if status == "" {
		return nil
	}
	if k.banner == nil {
		k.banner = overlay.NewDrawer()
	}
	return k.banner.DrawStatus(&a.Mat, status)
}

// Close waits for a training or reset in progress (cancel the context
// given to NewKeys to stop a training first) and releases the banner's
// buffers (a later Consume makes new ones).
func (k *Keys) Close() {
	k.wg.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.banner != nil {
		k.banner.Close()
		k.banner = nil
	}
}
