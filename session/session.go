// Package session opens what a video command runs, a source and a model
// (one or more instances of it), from a plain Config, and runs them through
// the pipeline with an overlay and the sinks a command gives:
//
//	s, err := session.Open(cfg)
//	defer s.Close()
//	stats, err := s.Run(ctx, recorder, progress)
//
// SwapModel replaces the model, from any goroutine, while Run runs (or
// before or after): the frames already read finish on the old model, which
// is closed once none holds it.
package session

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
)

// Config is what to open and how to run it.
type Config struct {
	Model string // the .onnx classifier
	// Precision says which build of the model Model is and why (e.g. "int8
	// (auto: this CPU has AVX512_VNNI)"), for the start line; "" says nothing.
	Precision string
	Library   string // the ONNX Runtime library; "" finds it as ort.FindLibrary does
	Device    infer.Device
	// Threads is ONNX Runtime's intra-op thread count per model instance;
	// 0 is its default. Workers is the number of model instances run in
	// parallel on successive frames; 0 chooses by the source (see Open).
	Threads, Workers int
	Spin             bool // let ONNX Runtime's threads busy-wait between operators

	ROI       image.Rectangle // the zero rectangle: the model's centre crop
	Smoothing Smoothing       // the zero value: ema:0.5 for a live source, off for a file
	Threshold float32         // below it a decision is uncertain

	Source        capture.Spec
	Width, Height int     // ask a camera for this frame size; 0: its default
	FPS           float64 // ask a camera for this frame rate; 0: its default
	MJPG          bool    // ask a camera for MJPG
	Realtime      bool    // read a file at its own frame rate, like a camera
	// Reconnect reopens a lost camera, device, stream or pipeline with
	// backoff, giving up after GiveUp (0: never); a live source silent for
	// SourceTimeout counts as lost (0: never).
	Reconnect             bool
	GiveUp, SourceTimeout time.Duration

	MaxFrames int // stop after this many frames, warm-up included; 0: no limit
	Warmup    int // frames left out of the statistics

	Log io.Writer // one line per notice: CUDA fallback, source lost and back; nil: none
}

// Smoothing is a parsed smoothing setting (see ParseSmoothing).
type Smoothing struct {
	name     string
	smoother pipeline.Smoother
}

// ParseSmoothing reads "auto" (or ""), "off", "none", "ema:ALPHA" or
// "majority:N"; see pipeline.ParseSmoothing.
func ParseSmoothing(spec string) (Smoothing, error) {
	switch spec {
	case "", "auto":
		return Smoothing{}, nil
	case "off", "none":
		return Smoothing{name: "off"}, nil
	}
	s, err := pipeline.ParseSmoothing(spec)
	if err != nil {
		return Smoothing{}, err
	}
	return Smoothing{name: spec, smoother: s}, nil
}

// ConfigError is a Config setting that is out of range or does not fit
// what was opened (an ROI outside the frame): fix it and run again.
type ConfigError struct {
	Field string // the setting as rpscam's flags name it, e.g. "roi"
	Err   error  // its text starts with Field, e.g. "roi 0,0,9,9 lies outside..."
}

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Session is an open source and model, closed together.
type Session struct {
	src     capture.Source
	info    capture.Info
	drawer  *overlay.Drawer
	ann     *parts.Annotator
	status  statusRelay
	version string // ONNX Runtime's

	// mu guards what SwapModel changes: the model instances, the model's
	// path in cfg, and the pipeline running them.
	mu     sync.Mutex
	cfg    Config
	models []*infer.Classifier // the first and the parallel instances
	pipe   *pipeline.Pipeline  // while Run runs
	closed bool
	// retiring counts replaced models waiting for their last frame.
	retiring sync.WaitGroup
}

// Open loads the model (Config.Workers instances; 0 chooses: see
// resolveWorkers) and opens the source. Errors about the setup wrap
// ort.ErrLibrary, infer.ErrCUDAUnavailable, capture.ErrSourceUnavailable or
// are an *infer.ModelError or a *ConfigError.
func Open(cfg Config) (*Session, error) {
	return open(cfg, (*Session).openSource)
}

// open is Open with the source opened by openSource (tests give a fake).
func open(cfg Config, openSource func(*Session) (capture.Source, error)) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lib, err := ort.FindLibrary(cfg.Library)
	if err != nil {
		return nil, err
	}
	rt, err := ort.Init(lib)
	if err != nil {
		return nil, err
	}
	cfg.Library = lib
	resolveWorkers(&cfg, runtime.NumCPU())
	s := &Session{cfg: cfg, version: rt.Version()}
	first, err := LoadModel(cfg)
	if err != nil {
		return nil, err
	}
	s.models = append(s.models, first)
	for i := 1; i < cfg.Workers; i++ {
		// On the device the first found, without trying (and reporting) again.
		more, err := first.Another()
		if err != nil {
			s.Close()
			return nil, err
		}
		s.models = append(s.models, more)
	}
	if s.src, err = openSource(s); err != nil {
		s.Close()
		return nil, err
	}
	s.info = s.src.Info()
	if !cfg.ROI.Empty() {
		if err := infer.CheckROI(cfg.ROI, s.info.Width, s.info.Height); err != nil {
			s.Close()
			return nil, &ConfigError{Field: "roi", Err: err}
		}
	}
	if s.cfg.Smoothing.name == "" {
		s.cfg.Smoothing.name = "off"
		if s.info.Live {
			s.cfg.Smoothing = Smoothing{name: "ema:0.5", smoother: pipeline.NewEMA(0.5)}
		}
	}
	s.drawer = overlay.NewDrawer()
	w, h := first.InputSize()
	s.ann = parts.NewAnnotator(s.drawer, w, h)
	return s, nil
}

// LoadModel loads one instance of cfg's model as Open does, for a command
// that classifies without a source.
func LoadModel(cfg Config) (*infer.Classifier, error) {
	opts := []infer.Option{
		infer.WithLibrary(cfg.Library),
		infer.WithDevice(cfg.Device),
		infer.WithThreads(cfg.Threads),
		infer.WithSpinning(cfg.Spin),
	}
	if cfg.Log != nil {
		opts = append(opts, infer.WithLogger(func(msg string) { fmt.Fprintln(cfg.Log, "rpscam:", msg) }))
	}
	return infer.Load(cfg.Model, opts...)
}

// Idler is a sink that needs its goroutine while no frame comes (a window
// redrawing its last frame with the status and answering keys): Run calls
// Idle every idleEvery then.
type Idler interface {
	Idle(status string) error
}

// idleEvery is how often an Idler is called while no frame comes: often
// enough that a quit key answers at once.
const idleEvery = 100 * time.Millisecond

// StatusListener is a sink told of every status change ("reconnecting…").
type StatusListener interface {
	SetStatus(status string)
}

// RawFrameSink is a sink that also wants every frame as captured, before
// the overlay is drawn on it, with the region the model classified
// (Config.ROI, or the model's centre crop when that is zero): teaching's
// samples. Run calls RawFrame on the output goroutine before annotating the
// frame and before any Consume; it must not keep or change frame (clone
// what it keeps).
type RawFrameSink interface {
	RawFrame(frame gocv.Mat, roi image.Rectangle)
}

// Run runs the pipeline once, with the overlay, into sinks in order, until
// the source ends, Config.MaxFrames, a sink's pipeline.ErrStop or ctx.
// SwapModel may be called while it runs.
func (s *Session) Run(ctx context.Context, sinks ...pipeline.Sink) (pipeline.Stats, error) {
	p, err := s.newPipeline(sinks)
	if err != nil {
		return pipeline.Stats{}, err
	}
	s.status.connect(p.SetStatus)
	stats, err := p.Run(ctx)
	s.mu.Lock()
	s.pipe = nil
	s.mu.Unlock()
	return stats, err
}

// newPipeline makes the pipeline of the current model into sinks and
// registers it for SwapModel.
func (s *Session) newPipeline(sinks []pipeline.Sink) (*pipeline.Pipeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("session: Run after Close")
	}
	if s.pipe != nil {
		return nil, errors.New("session: Run is already running: a session runs one pipeline at a time")
	}
	cls := adapt(s.models)
	opts := []pipeline.Option{
		pipeline.WithParallelClassifiers(cls[1:]...),
		pipeline.WithROI(s.cfg.ROI),
		pipeline.WithSmoother(s.cfg.Smoothing.smoother),
		pipeline.WithThreshold(s.cfg.Threshold),
		pipeline.WithAnnotator(s.ann),
		pipeline.WithSinks(sinks...),
		pipeline.WithMaxFrames(s.cfg.MaxFrames),
		pipeline.WithWarmup(s.cfg.Warmup),
	}
	for _, k := range sinks {
		if i, ok := k.(Idler); ok {
			opts = append(opts, pipeline.WithIdle(idleEvery, i.Idle))
		}
		if l, ok := k.(StatusListener); ok {
			opts = append(opts, pipeline.WithStatusListener(l.SetStatus))
		}
		if r, ok := k.(RawFrameSink); ok {
			opts = append(opts, pipeline.WithFrameTap(s.rawFrameTap(r)))
		}
	}
	p, err := pipeline.New(parts.Source(s.src), cls[0], opts...)
	if err != nil {
		return nil, err
	}
	s.pipe = p
	return p, nil
}

// adapt makes the model instances pipeline classifiers.
func adapt(models []*infer.Classifier) []pipeline.Classifier {
	cls := make([]pipeline.Classifier, len(models))
	for i, m := range models {
		cls[i] = parts.Classifier(m)
	}
	return cls
}

// rawFrameTap passes frames to r with the region the model classified.
func (s *Session) rawFrameTap(r RawFrameSink) func(gocv.Mat, image.Rectangle) {
	w, h := s.models[0].InputSize() // every model swapped in has the same
	return func(frame gocv.Mat, roi image.Rectangle) {
		if roi.Empty() {
			roi = centreCrop(frame.Cols(), frame.Rows(), w, h)
		}
		r.RawFrame(frame, roi)
	}
}

// centreCrop is the largest rectangle of aspect ratio aw:ah centred in the
// frame: what infer.Classifier classifies when given no ROI
// (infer.CentreSquare for a square input).
func centreCrop(frameW, frameH, aw, ah int) image.Rectangle {
	if aw == ah {
		return infer.CentreSquare(frameW, frameH)
	}
	w, h := frameW, frameH
	if frameW*ah > frameH*aw {
		w = frameH * aw / ah
	} else {
		h = frameW * ah / aw
	}
	w, h = max(w, 1), max(h, 1)
	x, y := (frameW-w)/2, (frameH-h)/2
	return image.Rect(x, y, x+w, y+h)
}

// Config is the configuration as opened: the model instances and threads
// chosen, the library found; after SwapModel, Model is the swapped-in path
// and Precision "".
func (s *Session) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// Info describes the source.
func (s *Session) Info() capture.Info { return s.info }

// Models are the current model's instances: the first, then the parallel
// ones. A later SwapModel closes them.
func (s *Session) Models() []*infer.Classifier {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.models)
}

// Labels are the current model's class names.
func (s *Session) Labels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models[0].Labels()
}

// Provider is where the current model runs: "CUDA" or "CPU" ("" after Close).
func (s *Session) Provider() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models[0].Provider()
}

// Smoothing names the smoothing in use ("off", "ema:0.5", …).
func (s *Session) Smoothing() string { return s.Config().Smoothing.name }

// RuntimeVersion is the ONNX Runtime library's version.
func (s *Session) RuntimeVersion() string { return s.version }

// Annotator draws the overlay; its REC indicator is the caller's to set.
func (s *Session) Annotator() *parts.Annotator { return s.ann }

// Describe is one line about the source and model, printed at start.
func (s *Session) Describe() string {
	kind := "file"
	if s.info.Live {
		kind = "live"
	}
	cfg, instances := s.Config(), len(s.Models())
	model := cfg.Model
	if cfg.Precision != "" {
		model += " [" + cfg.Precision + "]"
	}
	rate := fmt.Sprintf("%.4g fps", s.info.FPS)
	if s.info.FPSMeasured {
		reported := "no rate"
		if s.info.ReportedFPS > 0 {
			reported = fmt.Sprintf("%.4g", s.info.ReportedFPS)
		}
		rate += fmt.Sprintf(" measured, the source reported %s", reported)
	}
	return fmt.Sprintf("%s (%s, %dx%d @ %s), model %s on %s (%d instance(s)), smoothing %s",
		s.info.Spec, kind, s.info.Width, s.info.Height, rate, model, s.Provider(), instances, s.Smoothing())
}

// Close closes the source, the current model's instances (after waiting
// for replaced ones to be closed) and the overlay. Call it after Run has
// returned.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	models := s.models // kept: Labels still answers, Provider says ""
	s.mu.Unlock()
	s.retiring.Wait()
	if s.src != nil {
		s.src.Close()
	}
	closeAll(models)
	if s.drawer != nil {
		s.drawer.Close()
	}
}
