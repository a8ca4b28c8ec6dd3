package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/cvdnn"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/session"
)

// CompareConfig is one rpscam bench --compare run.
type CompareConfig struct {
	Model                                      string // the fp32 model; its int8 build is infer.Int8Path of it
	Input                                      string // the clip
	Library                                    string // ONNX Runtime; "" finds it
	Warmup, Frames, RealtimeFrames, InferIters int
	// Data is a folder of class folders for the accuracy column; "" takes
	// PerSet images from each shared test set (Shared; "" finds it).
	Data, Shared string
	PerSet       int
	// Child is the command line that measures one row in a child process,
	// less the job file's path (os.Args[0] bench --compare-job).
	Child []string
	Log   io.Writer // a line per row started; nil: none
}

// RunCompare measures every row of compareRows on c's clip, each in a child
// process. Settings the caller fixes are a *session.ConfigError. When no row
// ran, the Comparison comes with a *NoRowRanError.
func RunCompare(ctx context.Context, c CompareConfig) (*Comparison, error) {
	if c.RealtimeFrames < 1 || c.PerSet < 1 {
		return nil, &session.ConfigError{Field: "realtime-frames", Err: fmt.Errorf("realtime-frames and --per-set must be at least 1")}
	}
	images, data, err := c.images()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "rpscam-compare-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	opencvPath := filepath.Join(tmp, "opencv_"+filepath.Base(c.Model))
	exportErr := cvdnn.Export(c.Model, opencvPath)
	specs := compareRows(c.Model, infer.Int8Path(c.Model), opencvPath, runtime.NumCPU())
	for i := range specs {
		if specs[i].Backend == backendOpenCV && exportErr != nil {
			specs[i].Unavailable = "exporting the model for OpenCV: " + exportErr.Error()
		}
	}
	job := rowJob{Input: c.Input, Library: c.Library, Warmup: c.Warmup, Frames: c.Frames, RealtimeFrames: c.RealtimeFrames, InferIters: c.InferIters, Images: images}
	measure := func(ctx context.Context, j rowJob) (rowResult, error) {
		if c.Log != nil {
			fmt.Fprintf(c.Log, "bench --compare: %s %s %s ...\n", j.Row.Backend, j.Row.Precision, j.Row.Device)
		}
		return runChild(ctx, tmp, j, c.Child...)
	}
	cmp, err := compare(ctx, specs, job, data, measure)
	if ctx.Err() != nil {
		return cmp, ctx.Err()
	}
	return cmp, err
}

// images lists Data, or a fixed sample of the shared test sets, and says
// what it took.
func (c CompareConfig) images() ([]capture.LabeledImage, string, error) {
	if c.Data != "" {
		list, err := capture.ListImages(c.Data)
		if err != nil {
			return nil, "", &session.ConfigError{Field: "data", Err: fmt.Errorf("data %s: %v", c.Data, err)}
		}
		for _, im := range list {
			if im.Class == "" {
				return nil, "", &session.ConfigError{Field: "data", Err: fmt.Errorf("data %s: %s is not in a class folder: put images in rock/ paper/ scissors/ none/ subfolders", c.Data, im.Path)}
			}
		}
		return list, c.Data, nil
	}
	shared, err := shareddata.Dir(c.Shared)
	if err != nil {
		return nil, "", fmt.Errorf("%w (or pass --data DIR with class folders)", err)
	}
	return sampleTestSets(shared, c.PerSet)
}
