package teach

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Config is what Train reads and writes.
type Config struct {
	Samples string   // samples folder
	Base    string   // the model to start from (the shipped .onnx)
	Out     string   // where the taught .onnx goes
	Shared  string   // ../shared, for the general data mixed in and the backbone weights
	Library string   // ONNX Runtime library ("" finds it)
	Classes []string // the classes taught; default the base model's labels
	Log     io.Writer
	// Shipped is the model a Teacher's Reset swaps back in: the one running
	// before teaching (e.g. the int8 build of Base); "" is Base.
	Shipped string

	// Params is the base model's parameters file (its head and fine-tuned
	// layers); "" is rps_head.params beside Base.
	Params string
	// CacheDir holds the general data's features; "" is cache/ beside Base.
	CacheDir string
	// MinPerClass is the fewest samples a class may have (default 10).
	MinPerClass int
	// HoldOut is the share of each class's newest samples (a block of
	// consecutive frames) kept out of training to measure on (default 0.2;
	// negative: none).
	HoldOut float64
	// Epochs of head training (default 40); Seed makes runs repeatable.
	Epochs int
	Seed   uint64
	// General is how many images per class of each general training source
	// are mixed in (default 120; negative: none).
	General int
	// Anchor, if above 0, is an L2 pull of the new head towards the base
	// model's (in place of the usual small decay towards 0): measured with
	// 0.01, the shipped test sets keep more (sxsw within 1 point for 5 of 7
	// stand-in users, against 2 of 7) and the user's own frames a little
	// less (0 to 3.5 points).
	Anchor float64
	// Test, if set, is a class-folder set scored before and after as well
	// (a stand-in user's later frames).
	Test string
}

// Progress is one step of a Train call, for a progress bar.
type Progress struct {
	Stage        string // "general", "features", "fit", "export"
	Done, Total  int
	Elapsed, ETA time.Duration
}

// Result is what Train did and measured.
type Result struct {
	Before, After float64 // accuracy on the held-out user samples, base model vs taught model
	HeldOut       int     // held-out samples
	Model         string  // path of the taught model
	Took          time.Duration
	// SwapTook is how long Teacher.Train's swap into the running pipeline
	// took (part of Took; 0 for Train).
	SwapTook time.Duration
	// Trained is the number of user samples trained on, General the number
	// of general images mixed in.
	Trained, General int
	// PerClass are the held-out figures per class, in Classes order.
	Classes  []string
	PerClass []ClassResult
	// TestBefore and TestAfter are the accuracies on Config.Test (NaN without).
	TestBefore, TestAfter float64
	TestN                 int
	// GeneralTook is the time spent computing the general features (0 when cached).
	GeneralTook time.Duration
}

// ClassResult is one class's held-out figures.
type ClassResult struct {
	Class         string
	Samples       int // in the store
	HeldOut       int
	Before, After float64 // recall on the held-out samples
}

// ErrBusy is returned by a Train call while another runs.
var ErrBusy = errors.New("teach: training is already running: wait for it to finish (the running model stays in use)")

// SamplesError says a class has too few samples to train on.
type SamplesError struct {
	Class      string
	Have, Need int
}

func (e *SamplesError) Error() string {
	if e.Have == 0 {
		return fmt.Sprintf("teach: class %q has no samples: record at least %d of it (hold the gesture up and capture)", e.Class, e.Need)
	}
	return fmt.Sprintf("teach: class %q has only %d samples: record at least %d (%d more)", e.Class, e.Have, e.Need, e.Need-e.Have)
}
