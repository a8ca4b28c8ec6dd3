package main

import (
	"context"
	"fmt"
	"image"
	"time"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/session"
)

// The model and source flags live, record, bench, serve and classify
// share, turned into a session.Config.

// defaultModel is where scripts/setup.sh puts the trained model, relative to
// the working directory or the repository root.
const defaultModel = "models/rps_mobilenetv2.onnx"

// modelFlags are the flags every model-running subcommand takes.
type modelFlags struct {
	model     string
	precision string
	device    string
	ortLib    string
	threads   int
	workers   int
	spin      bool
	roi       string
	smooth    string
	threshold float64
	fs        *pflag.FlagSet
}

func addModelFlags(fs *pflag.FlagSet, withSmoothing bool) *modelFlags {
	f := &modelFlags{fs: fs}
	fs.StringVar(&f.model, "model", defaultModel, "ONNX classifier; the default is looked for in the working directory, then in the folders above the executable")
	fs.StringVar(&f.precision, "precision", "auto", precisionUsage)
	fs.StringVar(&f.device, "device", "auto", "where inference runs: cpu, cuda or auto (CUDA when it works, else CPU)")
	fs.StringVar(&f.ortLib, "ort-lib", "", "ONNX Runtime shared library (default $"+ort.EnvVar+", then .deps/ from scripts/setup.sh)")
	fs.IntVar(&f.threads, "threads", 0, "ONNX Runtime intra-op threads per model instance (0: one per physical core; with --workers auto on a video file, the cores shared out among the instances)")
	if withSmoothing { // the video commands
		fs.IntVar(&f.workers, "workers", 0, "model instances run in parallel on successive frames; 0 (auto): for a video file one single-threaded instance per core (up to 4), the most frames per second, for a live source one instance on every core, the lowest latency per frame")
		fs.BoolVar(&f.spin, "spin", false, "let ONNX Runtime's threads busy-wait between operators: faster for the model alone, slower in the pipeline, whose other stages need those cores")
	}
	fs.StringVar(&f.roi, "roi", "", "region to classify as x,y,w,h in pixels (default: the centred square)")
	if withSmoothing {
		fs.StringVar(&f.smooth, "smooth", "auto", "smooth predictions over frames: off, ema:ALPHA, majority:N, or auto (ema:0.5 for live sources, off for files)")
	}
	fs.Float64Var(&f.threshold, "threshold", 0.6, "below this confidence the label shows as uncertain (0..1)")
	return f
}

// check validates the flags that can be checked before opening anything.
func (f *modelFlags) check() (image.Rectangle, infer.Device, error) {
	var roi image.Rectangle
	dev, err := infer.ParseDevice(f.device)
	if err != nil {
		return roi, dev, usageError{err}
	}
	if f.roi != "" {
		if roi, err = infer.ParseROI(f.roi); err != nil {
			return roi, dev, usageError{err}
		}
	}
	if f.workers < 0 || f.workers > 16 {
		return roi, dev, usagef("--workers %d is outside 0 (auto)..16", f.workers)
	}
	if f.threads < 0 {
		return roi, dev, usagef("--threads %d is negative: use 0 for ONNX Runtime's default or a positive count", f.threads)
	}
	if !(f.threshold >= 0 && f.threshold <= 1) {
		return roi, dev, usagef("--threshold %v is outside 0..1", f.threshold)
	}
	return roi, dev, nil
}

// sessionConfig turns the model and source flags into a session.Config,
// refusing what is wrong before anything is opened.
func sessionConfig(env *cliEnv, mf *modelFlags, sf *sourceFlags) (session.Config, error) {
	roi, dev, err := mf.check()
	if err != nil {
		return session.Config{}, err
	}
	smoothing, err := session.ParseSmoothing(mf.smooth)
	if err != nil {
		return session.Config{}, usageError{err}
	}
	choice, err := mf.resolve()
	if err != nil {
		return session.Config{}, err
	}
	spec, err := sf.check()
	if err != nil {
		return session.Config{}, err
	}
	return session.Config{
		Model: choice.Path, Precision: choice.String(), Library: mf.ortLib, Device: dev, Threads: mf.threads, Workers: mf.workers, Spin: mf.spin,
		ROI: roi, Smoothing: smoothing, Threshold: float32(mf.threshold),
		Source: spec, Width: sf.width, Height: sf.height, FPS: sf.fps, MJPG: sf.mjpg, Realtime: sf.realtime,
		Reconnect: sf.reconnect, GiveUp: sf.giveUp, SourceTimeout: sf.sourceTimeout,
		Log: env.stderr,
	}, nil
}

// openSession opens the source and model the flags ask for.
func openSession(env *cliEnv, mf *modelFlags, sf *sourceFlags) (*session.Session, error) {
	cfg, err := sessionConfig(env, mf, sf)
	if err != nil {
		return nil, err
	}
	return session.Open(cfg)
}

// load finds the model of the chosen precision and loads it on the
// requested device.
func (f *modelFlags) load(env *cliEnv, dev infer.Device) (*infer.Classifier, infer.PrecisionChoice, error) {
	choice, err := f.resolve()
	if err != nil {
		return nil, choice, err
	}
	cls, err := infer.Load(choice.Path, f.inferOptions(env, dev)...)
	return cls, choice, err
}

// resolve finds the model --model names and picks its build by --precision.
func (f *modelFlags) resolve() (infer.PrecisionChoice, error) {
	return infer.ResolvePrecision(f.model, f.fs.Changed("model"), f.precision)
}

const precisionUsage = "fp32, int8 (" + defaultInt8Model + ", built by rpscam quantize) or auto: int8 where the CPU has AVX512_VNNI or AVX_VNNI, the int8 model exists and it kept the accuracy bar, else fp32"

func (f *modelFlags) inferOptions(env *cliEnv, dev infer.Device) []infer.Option {
	return []infer.Option{
		infer.WithLibrary(f.ortLib),
		infer.WithDevice(dev),
		infer.WithThreads(f.threads),
		infer.WithSpinning(f.spin),
		infer.WithLogger(func(msg string) { fmt.Fprintln(env.stderr, "rpscam:", msg) }),
	}
}

// sourceFlags choose and configure the video source.
type sourceFlags struct {
	input    string
	width    int
	height   int
	fps      float64
	mjpg     bool
	realtime bool

	// Set by the commands that ride out a lost live source (live, serve,
	// record): reopen it with backoff instead of ending.
	reconnect     bool
	giveUp        time.Duration // stop reconnecting after this long; 0: never
	sourceTimeout time.Duration // a live source silent this long counts as lost
}

// addReconnectFlags adds --source-timeout, for the commands that reconnect.
func (f *sourceFlags) addReconnectFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&f.sourceTimeout, "source-timeout", defaultSourceTimeout, "a camera or stream that delivers no frame for this long counts as lost and is reconnected")
}

// defaultSourceTimeout is long enough for a camera renegotiating its format
// or a stream rebuffering, short enough that a bumped USB cable is noticed
// while the user is still looking at the screen.
const defaultSourceTimeout = 5 * time.Second

func addSourceFlags(fs *pflag.FlagSet, defaultInput string) *sourceFlags {
	f := &sourceFlags{}
	fs.StringVarP(&f.input, "input", "i", defaultInput, "camera index (0), device (/dev/video2), video file, rtsp:// or http:// URL, or GStreamer pipeline ending in appsink")
	fs.IntVar(&f.width, "width", 0, "ask the camera for this frame width (0: its default)")
	fs.IntVar(&f.height, "height", 0, "ask the camera for this frame height (0: its default)")
	fs.Float64Var(&f.fps, "fps", 0, "ask the camera for this frame rate (0: its default)")
	fs.BoolVar(&f.mjpg, "mjpg", false, "ask the camera for MJPG (needed by most USB webcams for 720p/1080p at full rate)")
	fs.BoolVar(&f.realtime, "realtime", false, "read a video file at its own frame rate, dropping frames when behind, like a camera")
	return f
}

// check validates the source flags and parses --input.
func (f *sourceFlags) check() (capture.Spec, error) {
	if f.input == "" {
		return capture.Spec{}, usagef("--input is empty: give a camera index, file, URL or GStreamer pipeline")
	}
	if (f.width == 0) != (f.height == 0) || f.width < 0 || f.height < 0 {
		return capture.Spec{}, usagef("--width %d --height %d: give both, positive, or neither", f.width, f.height)
	}
	spec, err := capture.ParseSpec(f.input)
	if err != nil {
		return spec, usageError{err} // a typo or a file that is not there
	}
	if f.sourceTimeout < 0 {
		return spec, usagef("--source-timeout %v is negative: give how long a silent camera is waited for, e.g. 5s", f.sourceTimeout)
	}
	return spec, nil
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return notifyContext(context.Background())
}

// defaultInt8Model is where scripts/setup.sh (rpscam quantize) puts the
// int8 model, beside defaultModel.
const defaultInt8Model = "models/rps_mobilenetv2_int8.onnx"
