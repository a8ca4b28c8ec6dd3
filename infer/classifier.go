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

// Classifier runs one ONNX image classifier on frames, in one call
// (Classify) or in two steps a pipeline can overlap (Preprocess, then Infer).
// It is not safe for concurrent use, but Preprocess and Infer may run
// concurrently with each other; for more parallel instances, see Another.
type Classifier struct {
	path     string
	contract Contract
	spec     *inspected
	opts     options
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
	return newClassifier(modelPath, spec, o)
}

func newClassifier(modelPath string, spec *inspected, o options) (*Classifier, error) {
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
		spec:     spec,
		opts:     o,
		pre:      pre,
		run:      r,
		probs:    make([]float32, len(spec.contract.Labels)),
	}, nil
}

// Another loads one more instance of the same model with the same options,
// on the device c runs on, without reading the model file's contract again:
// the parallel instances of a pipeline.
func (c *Classifier) Another() (*Classifier, error) {
	if c.run == nil {
		return nil, errClassifierClosed
	}
	o := c.opts
	o.device = DeviceCPU
	if c.run.provider == "CUDA" {
		o.device = DeviceCUDA
	}
	return newClassifier(c.path, c.spec, o)
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
	res, err := c.Infer(src)
	res.Preprocess = time.Since(start) - res.Inference
	return res, err
}

// InputBytes is the size of one preprocessed frame (H*W*C uint8).
func (c *Classifier) InputBytes() int { return c.pre.Size() }

// Preprocess writes roi of bgr (zero: the model's centre crop), cropped,
// resized and in the model's channel order, into dst (InputBytes long).
func (c *Classifier) Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error {
	return c.pre.IntoUint8(bgr, roi, dst)
}

// Infer runs the model on one preprocessed frame (what Preprocess writes).
// Result.Preprocess is zero; Result.Probs is c's own buffer, as with
// Classify.
func (c *Classifier) Infer(input []byte) (Result, error) {
	if c.run == nil {
		return Result{}, errClassifierClosed
	}
	if len(input) != c.pre.Size() {
		return Result{}, fmt.Errorf("infer: %d bytes of input, want %d (%dx%dx%d)", len(input), c.pre.Size(), c.contract.Height, c.contract.Width, c.contract.Channels)
	}
	start := time.Now()
	writeInput(&c.contract, input, c.run.inU8, c.run.inF32)
	if err := c.run.session.Run(); err != nil {
		return Result{}, fmt.Errorf("infer: running %s: %w", c.path, err)
	}
	res := Result{Probs: c.probs, Inference: time.Since(start)}
	copy(c.probs, c.run.output.GetData())
	if c.contract.OutputKind == Logits {
		nn.SoftmaxInPlace(c.probs)
	}
	res.Top = nn.ArgmaxSkipNaN(c.probs)
	if res.Top >= 0 {
		res.Label, res.Confidence = c.contract.Labels[res.Top], c.probs[res.Top]
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
