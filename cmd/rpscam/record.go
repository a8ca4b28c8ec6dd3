package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/session"
	"github.com/rpscam/rpscam/sink"
)

func runRecord(env *cliEnv, args []string) error {
	return exitError(record(env, args))
}

func record(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "record", "--input SOURCE --output FILE [flags]",
		"rpscam record --input 0 --output demo.mp4 --duration 30s",
		"rpscam record --input out/demo.mp4 --output out/demo-annotated.mp4",
		"rpscam record --input 'videotestsrc num-buffers=300 ! videoconvert ! appsink' --output test.avi",
		"rpscam record --input rtsp://camera.local/stream --output door.mp4 --frames 900 --smooth majority:5")
	sf := addSourceFlags(fs, "0")
	sf.addReconnectFlags(fs)
	mf := addModelFlags(fs, true)
	output := fs.StringP("output", "o", "", "annotated video to write: .mp4 (H.264, else MPEG-4), .avi (MJPG), .mkv")
	duration := fs.Duration("duration", 0, "stop after this long, e.g. 30s (0: until the source ends or Ctrl-C)")
	frames := fs.Int("frames", 0, "stop after this many frames (0: no limit)")
	quiet := fs.BoolP("quiet", "q", false, "no progress line")
	onLoss := fs.String("on-source-loss", "reconnect", "when a camera or stream is lost: reconnect (reopen with backoff and keep recording into the same file) or stop (finish the file and exit); files simply end")
	fs.DurationVar(&sf.giveUp, "reconnect-timeout", 0, "with --on-source-loss reconnect: give up and finish the file after trying this long (0: keep trying until Ctrl-C)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *onLoss {
	case "reconnect":
		sf.reconnect = true
	case "stop":
	default:
		return usagef("--on-source-loss %q: want reconnect or stop", *onLoss)
	}
	if sf.giveUp < 0 {
		return usagef("--reconnect-timeout %v is negative: give how long to keep trying, or 0 for no limit", sf.giveUp)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	}
	if *output == "" {
		return usagef("--output is required: the video file to write, e.g. --output demo.mp4")
	}
	if *duration < 0 || *frames < 0 {
		return usagef("--duration and --frames must not be negative")
	}

	// Refuse an output that cannot be written before the camera opens,
	// rather than after the user has started performing for it.
	if err := sink.CheckOutput(*output); err != nil {
		return usageError{fmt.Errorf("--output: %w", err)}
	}

	ctx, stop := signalContext()
	defer stop()
	cfg, err := sessionConfig(env, mf, sf)
	if err != nil {
		return err
	}
	cfg.MaxFrames = *frames
	s, err := session.Open(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	info := s.Info()
	rec, err := sink.NewRecorder(*output, info.FPS, info.Width, info.Height)
	if err != nil {
		return err
	}
	defer rec.Close()
	s.Annotator().SetRecording(true)

	sinks := []pipeline.Sink{rec}
	if !*quiet {
		sinks = append(sinks, &progress{w: env.stderr, verb: "recording:"})
	}
	counts := &labelCounts{}
	sinks = append(sinks, counts)
	fmt.Fprintf(env.stderr, "recording %s to %s (%s)\n", s.Describe(), rec.Path(), rec.Codec())
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	start := time.Now()
	st, runErr := s.Run(ctx, sinks...)
	elapsed := time.Since(start)
	closeErr := rec.Close()
	if !*quiet && term.IsTerminal(env.stderr) {
		fmt.Fprintln(env.stderr) // end the line the progress kept rewriting
	}
	why := "source ended"
	lost := errors.Is(runErr, capture.ErrSourceLost)
	switch {
	case lost:
		// The file holds every frame processed up to the loss and is
		// finalized: the recording ends cleanly, not as a failure.
		why = "source lost"
		fmt.Fprintf(env.stderr, "rpscam: %v\nrpscam: the recording is finished and playable up to the loss (--on-source-loss %s)\n", runErr, *onLoss)
		runErr = nil
	case runErr != nil:
		why = "failed"
	case st.Interrupted && *duration > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The timeout's own error, not the elapsed time: the deadline was
		// set a moment before start, so elapsed can fall short of it by
		// microseconds when the timeout is what stopped the run.
		why = "duration reached"
	case st.Interrupted:
		why = "interrupted"
	case *frames > 0 && st.Frames == *frames:
		why = "frame limit reached"
	case !info.Live && info.FrameCount > 0 && st.Frames+1 < info.FrameCount:
		// Containers estimate their count from the duration, so one frame
		// short is rounding; more is a file cut off or damaged.
		why = fmt.Sprintf("source ended after %d of the %d frames its header declares: the file is truncated or damaged", st.Frames, info.FrameCount)
		fmt.Fprintf(env.stderr, "rpscam: warning: %s %s\n", info.Spec, why)
	}
	fmt.Fprintf(env.stdout, "recorded %s: %s, %dx%d at %.4g fps\n", rec.Path(), rec.Codec(), info.Width, info.Height, rec.FPS())
	fmt.Fprintf(env.stdout, "frames processed: %d\nframes written: %d\nframes dropped by the source: %d\n", st.Frames, rec.Frames(), st.Dropped)
	fmt.Fprintf(env.stdout, "time: %.1fs (%s), %.1f fps end to end\n", elapsed.Seconds(), why, st.FPS)
	fmt.Fprintf(env.stdout, "predictions: %s\n", counts.String(s.Labels()))
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return fmt.Errorf("finishing %s: %w", rec.Path(), closeErr)
	}
	return nil
}

// labelCounts tallies the decisions, for the summary.
type labelCounts struct {
	n         map[int]int
	uncertain int
	total     int
}

func (c *labelCounts) Consume(a *pipeline.Annotated) error {
	if c.n == nil {
		c.n = map[int]int{}
	}
	c.total++
	if a.Decision.Uncertain {
		c.uncertain++
		return nil
	}
	c.n[a.Decision.Top]++
	return nil
}

func (c *labelCounts) String(labels []string) string {
	if c.total == 0 {
		return "none"
	}
	var parts []string
	for i, l := range labels {
		parts = append(parts, fmt.Sprintf("%s %d", infer.DisplayLabel(l), c.n[i]))
	}
	parts = append(parts, fmt.Sprintf("uncertain %d", c.uncertain))
	return strings.Join(parts, ", ")
}

// notifyContext is cancelled by SIGINT (Ctrl-C) or SIGTERM. A second signal
// kills the process the default way, for a user whose source hangs.
func notifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore default handling: the next Ctrl-C ends the process
	}()
	return ctx, stop
}
