package teach

import (
	"fmt"
	"image"
	"sync"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
)

// Recorder saves frames as samples: each the classifier's own input, the
// region of interest cropped and resized exactly as the live pipeline does,
// so a sample scores as the frame it was cut from. Safe for concurrent use.
type Recorder struct {
	samples *Samples
	mu      sync.Mutex
	pre     *infer.Preprocessor
	c       infer.Contract
	buf     []uint8
}

// NewRecorder saves into samples the model inputs of contract c (a loaded
// model's Contract). Close it when done.
func NewRecorder(samples *Samples, c infer.Contract) (*Recorder, error) {
	pre, err := infer.NewPreprocessor(c)
	if err != nil {
		return nil, fmt.Errorf("teach: %w", err)
	}
	return &Recorder{samples: samples, pre: pre, c: c, buf: make([]uint8, pre.Size())}, nil
}

// Samples is the store the recorder writes to.
func (r *Recorder) Samples() *Samples { return r.samples }

// Add crops roi of frame (zero: the model's centred crop), resizes it to the
// model's input and saves it as the class's next sample; it returns the
// file's path. frame is not kept.
func (r *Recorder) Add(class string, frame gocv.Mat, roi image.Rectangle) (string, error) {
	if err := r.samples.known(class); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pre == nil {
		return "", fmt.Errorf("teach: recorder used after Close")
	}
	if err := r.pre.IntoUint8(frame, roi, r.buf); err != nil {
		return "", fmt.Errorf("teach: %w", err)
	}
	typ := gocv.MatTypeCV8UC3
	if r.c.Channels == 1 {
		typ = gocv.MatTypeCV8UC1
	}
	input, err := gocv.NewMatFromBytes(r.c.Height, r.c.Width, typ, r.buf)
	if err != nil {
		return "", fmt.Errorf("teach: %w", err)
	}
	defer input.Close()
	if r.c.Channels == 3 && r.c.Color == infer.RGB {
		// Image files are BGR to OpenCV: store what the model saw.
		bgr := gocv.NewMat()
		defer bgr.Close()
		gocv.CvtColor(input, &bgr, gocv.ColorBGRToRGB) // the same swap both ways
		return r.samples.Add(class, bgr)
	}
	return r.samples.Add(class, input)
}

// Close frees the preprocessing buffers.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pre == nil {
		return nil
	}
	err := r.pre.Close()
	r.pre = nil
	return err
}
