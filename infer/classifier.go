package infer

import (
	"errors"
	"fmt"
	"image"
	"slices"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/nn"
)

// Classifier runs one ONNX image classifier on frames. It is not safe for
// concurrent use: give each goroutine its own, or serialise calls.
type Classifier struct {
	path     string
	contract Contract
	pre      *Preprocessor
	run      *runner
	probs    []float32
}

// Result is one frame's classification.
type Result struct {
	// Probs holds one probability per label. It is the Classifier's own
	// buffer, overwritten by the next Classify: copy it to keep it.
	Probs      []float32
	Top        int // index of the most probable class
	Label      string
	Confidence float32 // Probs[Top]
	// Preprocess covers crop, resize, colour conversion and filling the input
	// tensor; Inference covers the ONNX Runtime call.
	Preprocess, Inference time.Duration
}

// Load opens an ONNX classifier (see the Key* constants for the metadata
// contract), checks it can be fed BGR frames, and prepares a batch-1 session
// on the chosen device. Problems with the file come back as *ModelError; a
// missing ONNX Runtime library as an error wrapping ort.ErrLibrary; DeviceCUDA
// without a working CUDA provider as an error wrapping ErrCUDAUnavailable.
func Load(modelPath string, opts ...Option) (*Classifier, error) {
	o, err := collectOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := initRuntime(&o); err != nil {
		return nil, err
	}
	spec, err := inspect(modelPath, o.output, true)
	if err != nil {
		return nil, err
	}
	if spec.batchDim != -1 && spec.batchDim != 1 {
		return nil, &ModelError{Path: modelPath, Problem: fmt.Sprintf("input %q has fixed batch size %d", spec.contract.InputName, spec.batchDim), Expected: "batch dimension 1 or symbolic"}
	}
	pre, err := NewPreprocessor(spec.contract)
	if err != nil {
		return nil, err
	}
	r, err := newRunner(modelPath, spec, 1, o)
	if err != nil {
		pre.Close()
		return nil, err
	}
	return &Classifier{
		path:     modelPath,
		contract: spec.contract,
		pre:      pre,
		run:      r,
		probs:    make([]float32, len(spec.contract.Labels)),
	}, nil
}

// Labels are the class names in output order.
func (c *Classifier) Labels() []string { return slices.Clone(c.contract.Labels) }

// InputSize is the model's input width and height in pixels.
func (c *Classifier) InputSize() (w, h int) { return c.contract.Width, c.contract.Height }

// Provider is "CUDA" or "CPU": where inference runs.
func (c *Classifier) Provider() string {
	if c.run == nil {
		return ""
	}
	return c.run.provider
}

// Contract is how the model is fed and read, as Load resolved it.
func (c *Classifier) Contract() Contract {
	ct := c.contract
	ct.Labels = slices.Clone(ct.Labels)
	return ct
}

var errClassifierClosed = errors.New("infer: classifier used after Close")

// Classify runs the model on the roi of a BGR frame (CV_8UC3; BGRA and grey
// frames are converted). An empty roi means the centred crop with the model's
// aspect ratio: CentreSquare for square inputs. In steady state it allocates
// nothing; see Result for the lifetime of Probs.
func (c *Classifier) Classify(bgr gocv.Mat, roi image.Rectangle) (Result, error) {
	if c.run == nil {
		return Result{}, errClassifierClosed
	}
	start := time.Now()
	src, err := c.pre.prepare(bgr, roi)
	if err != nil {
		return Result{}, err
	}
	writeInput(&c.contract, src, c.run.inU8, c.run.inF32)
	ready := time.Now()
	if err := c.run.session.Run(); err != nil {
		return Result{}, fmt.Errorf("infer: running %s: %w", c.path, err)
	}
	done := time.Now()
	copy(c.probs, c.run.output.GetData())
	if c.contract.OutputKind == Logits {
		nn.SoftmaxInPlace(c.probs)
	}
	top := nn.ArgmaxSkipNaN(c.probs)
	res := Result{Probs: c.probs, Top: top, Preprocess: ready.Sub(start), Inference: done.Sub(ready)}
	if top >= 0 {
		res.Label, res.Confidence = c.contract.Labels[top], c.probs[top]
	}
	return res, nil
}

// Close releases the session, tensors and Mats. It is safe to call more than
// once.
func (c *Classifier) Close() error {
	if c.run == nil {
		return nil
	}
	c.run.close()
	c.run = nil
	return c.pre.Close()
}
