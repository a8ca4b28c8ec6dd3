package infer

import (
	"errors"
	"fmt"
)

// BatchRunner runs one output of a model on batches of already-preprocessed
// images, for training (feature extraction) and evaluation. It is not safe for
// concurrent use.
type BatchRunner struct {
	path     string
	contract Contract
	batch    int
	outDim   int
	provider string
	run      *runner
}

// LoadBatchRunner opens modelPath for batches of up to batch images and reads
// the named output ("" picks "probabilities", else the first output), e.g.
// "features" to get rpscam's 1280-wide embeddings. Labels are not required.
// The model's batch dimension must be symbolic or equal batch.
func LoadBatchRunner(modelPath, output string, batch int, opts ...Option) (*BatchRunner, error) {
	if batch < 1 {
		return nil, fmt.Errorf("infer: batch size %d: want 1 or more", batch)
	}
	o, err := collectOptions(opts)
	if err != nil {
		return nil, err
	}
	if output == "" {
		output = o.output
	}
	if err := initRuntime(&o); err != nil {
		return nil, err
	}
	spec, err := inspect(modelPath, output, false)
	if err != nil {
		return nil, err
	}
	if spec.batchDim != -1 && spec.batchDim != int64(batch) {
		return nil, &ModelError{Path: modelPath,
			Problem:  fmt.Sprintf("input %q has fixed batch size %d but batches of %d were asked for", spec.contract.InputName, spec.batchDim, batch),
			Expected: fmt.Sprintf("a symbolic batch dimension, or run with batch size %d", spec.batchDim)}
	}
	r, err := newRunner(modelPath, spec, batch, o)
	if err != nil {
		return nil, err
	}
	return &BatchRunner{path: modelPath, contract: spec.contract, batch: batch, outDim: r.outDim, provider: r.provider, run: r}, nil
}

// Contract is how the model is fed, as LoadBatchRunner resolved it.
func (r *BatchRunner) Contract() Contract { return r.contract }

// OutputDim is the number of output values per image.
func (r *BatchRunner) OutputDim() int { return r.outDim }

// Provider is "CUDA" or "CPU".
func (r *BatchRunner) Provider() string { return r.provider }

// Run takes n <= batch images, each H*W*C bytes of uint8 NHWC in the model's
// channel order (what Preprocessor.IntoUint8 writes), converts them to the
// model's layout and element type, and returns n*OutputDim() floats in a new
// slice. A short batch is padded with the previous call's images: each image
// is computed independently, and reusing the full-size tensors keeps Run from
// allocating beyond its result.
func (r *BatchRunner) Run(images []uint8, n int) ([]float32, error) {
	if r.run == nil {
		return nil, errors.New("infer: batch runner used after Close")
	}
	per := r.contract.Width * r.contract.Height * r.contract.Channels
	if n < 1 || n > r.batch {
		return nil, fmt.Errorf("infer: batch of %d images: want 1..%d", n, r.batch)
	}
	if len(images) != n*per {
		return nil, fmt.Errorf("infer: %d bytes for %d images: want %d (%d x %dx%dx%d NHWC)", len(images), n, n*per, n, r.contract.Height, r.contract.Width, r.contract.Channels)
	}
	for i := 0; i < n; i++ {
		src := images[i*per : (i+1)*per]
		if r.contract.Element == Float32 {
			writeInput(&r.contract, src, nil, r.run.inF32[i*per:(i+1)*per])
		} else {
			writeInput(&r.contract, src, r.run.inU8[i*per:(i+1)*per], nil)
		}
	}
	if err := r.run.session.Run(); err != nil {
		return nil, fmt.Errorf("infer: running %s: %w", r.path, err)
	}
	out := make([]float32, n*r.run.outDim)
	copy(out, r.run.output.GetData())
	return out, nil
}

// Close releases the session and tensors. It is safe to call more than once.
func (r *BatchRunner) Close() error {
	if r.run != nil {
		r.run.close()
		r.run = nil
	}
	return nil
}
