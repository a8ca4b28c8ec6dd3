package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/session"
)

// defaultModel is where scripts/setup.sh puts the trained model, relative to
// the working directory or the repository root; defaultInt8Model its int8
// build (rpscam quantize).
const (
	defaultModel     = "models/rps_mobilenetv2.onnx"
	defaultInt8Model = "models/rps_mobilenetv2_int8.onnx"
)

const precisionUsage = "fp32, int8 (" + defaultInt8Model + ", built by rpscam quantize) or auto: int8 where the CPU has AVX512_VNNI or AVX_VNNI, the int8 model exists and it kept the accuracy bar, else fp32"

// sessionFlags are the model and source flags of the commands that run
// the model, bound into the session.Config they describe; the strings are
// parsed by config.
type sessionFlags struct {
	session.Config
	fs                                    *pflag.FlagSet
	precision, device, roi, smooth, input string
}

func newSessionFlags(fs *pflag.FlagSet) *sessionFlags { return &sessionFlags{fs: fs} }

func (f *sessionFlags) addModelFlags(withSmoothing bool) *sessionFlags {
	fs := f.fs
	fs.StringVar(&f.Model, "model", defaultModel, "ONNX classifier; the default is looked for in the working directory, then in the folders above the executable")
	fs.StringVar(&f.precision, "precision", "auto", precisionUsage)
	fs.StringVar(&f.device, "device", "auto", "where inference runs: cpu, cuda or auto (CUDA when it works, else CPU)")
	fs.StringVar(&f.Library, "ort-lib", "", "ONNX Runtime shared library (default $"+ort.EnvVar+", then .deps/ from scripts/setup.sh)")
	fs.IntVar(&f.Threads, "threads", 0, "ONNX Runtime intra-op threads per model instance (0: one per physical core; with --workers auto on a video file, the cores shared out among the instances)")
	if withSmoothing { // the video commands
		fs.IntVar(&f.Workers, "workers", 0, "model instances run in parallel on successive frames; 0 (auto): for a video file one single-threaded instance per core (up to 4), the most frames per second, for a live source one instance on every core, the lowest latency per frame")
		fs.BoolVar(&f.Spin, "spin", false, "let ONNX Runtime's threads busy-wait between operators: faster for the model alone, slower in the pipeline, whose other stages need those cores")
	}
	fs.StringVar(&f.roi, "roi", "", "region to classify as x,y,w,h in pixels (default: the centred square)")
	if withSmoothing {
		fs.StringVar(&f.smooth, "smooth", "auto", "smooth predictions over frames: off, ema:ALPHA, majority:N, or auto (ema:0.5 for live sources, off for files)")
	}
	fs.Float32Var(&f.Threshold, "threshold", 0.6, "below this confidence the label shows as uncertain (0..1)")
	return f
}

func (f *sessionFlags) addSourceFlags(defaultInput string) *sessionFlags {
	fs := f.fs
	fs.StringVarP(&f.input, "input", "i", defaultInput, "camera index (0), device (/dev/video2), video file, rtsp:// or http:// URL, or GStreamer pipeline ending in appsink")
	fs.IntVar(&f.Width, "width", 0, "ask the camera for this frame width (0: its default)")
	fs.IntVar(&f.Height, "height", 0, "ask the camera for this frame height (0: its default)")
	fs.Float64Var(&f.FPS, "fps", 0, "ask the camera for this frame rate (0: its default)")
	fs.BoolVar(&f.MJPG, "mjpg", false, "ask the camera for MJPG (needed by most USB webcams for 720p/1080p at full rate)")
	fs.BoolVar(&f.Realtime, "realtime", false, "read a video file at its own frame rate, dropping frames when behind, like a camera")
	return f
}

// addReconnectFlags adds --source-timeout, for the commands that ride out a
// lost live source (live, serve, record) by reopening it with backoff.
// The default is long enough for a camera renegotiating its format or a
// stream rebuffering, short enough that a bumped USB cable is noticed
// while the user is still looking at the screen.
func (f *sessionFlags) addReconnectFlags() *sessionFlags {
	f.fs.DurationVar(&f.SourceTimeout, "source-timeout", 5*time.Second, "a camera or stream that delivers no frame for this long counts as lost and is reconnected")
	return f
}

// modelConfig parses the model flags and finds the model --model names in
// the build --precision picks, refusing what is wrong before anything is
// opened; the source is left unset.
func (f *sessionFlags) modelConfig(env *cliEnv) (session.Config, error) {
	c := f.Config
	var err error
	if c.Device, err = infer.ParseDevice(f.device); err != nil {
		return c, usageError{err}
	}
	if f.roi != "" {
		if c.ROI, err = infer.ParseROI(f.roi); err != nil {
			return c, usageError{err}
		}
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.Smoothing, err = session.ParseSmoothing(f.smooth); err != nil {
		return c, usageError{err}
	}
	choice, err := infer.ResolvePrecision(f.Model, f.fs.Changed("model"), f.precision)
	if err != nil {
		return c, err
	}
	c.Model, c.Precision, c.Log = choice.Path, choice.String(), env.stderr
	return c, nil
}

// config is modelConfig with the source --input names.
func (f *sessionFlags) config(env *cliEnv) (session.Config, error) {
	c, err := f.modelConfig(env)
	if err != nil {
		return c, err
	}
	if f.input == "" {
		return c, usagef("--input is empty: give a camera index, file, URL or GStreamer pipeline")
	}
	if c.Source, err = capture.ParseSpec(f.input); err != nil {
		return c, usageError{err} // a typo or a file that is not there
	}
	return c, nil
}

// open opens the source and model the flags ask for.
func (f *sessionFlags) open(env *cliEnv) (*session.Session, error) {
	cfg, err := f.config(env)
	if err != nil {
		return nil, err
	}
	return session.Open(cfg)
}

// baseModel is the model --model names, whatever --precision says: the
// fp32 build that teaching and bench --compare start from.
func (f *sessionFlags) baseModel() (string, error) {
	return infer.ResolveModel(f.Model, f.fs.Changed("model"))
}
