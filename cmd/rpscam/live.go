package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/searchpath"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
	"github.com/rpscam/rpscam/sink"
)

// This file holds runLive and the pieces live, record, bench and classify
// share: the model and source flags, finding the model, and classifyEnvError.

// defaultModel is where scripts/setup.sh puts the trained model, relative to
// the working directory or the repository root.
const defaultModel = "models/rps_mobilenetv2.onnx"

// errModelMissing is wrapped when the default model is not where setup puts it.
var errModelMissing = errors.New("model not found")

// classifyEnvError reports errors that are the machine's or the user's setup
// rather than a failure of the work (exit code 2): no camera or unreadable
// source, no display, no model, an unusable model file, no CUDA when cuda was
// required, no ONNX Runtime library, an output that cannot be created.
func classifyEnvError(err error) bool {
	var modelErr *infer.ModelError
	return errors.Is(err, ort.ErrLibrary) ||
		errors.Is(err, capture.ErrSourceUnavailable) ||
		errors.Is(err, infer.ErrCUDAUnavailable) ||
		errors.Is(err, sink.ErrNoDisplay) ||
		errors.Is(err, sink.ErrUnwritable) ||
		errors.Is(err, errModelMissing) ||
		errors.Is(err, errNoShared) ||
		errors.As(err, &modelErr)
}

// exitError turns environment errors into usage errors so they exit with
// code 2 whatever common.go's isEnvironmentError knows about.
func exitError(err error) error {
	if err != nil && classifyEnvError(err) {
		var u usageError
		if !errors.As(err, &u) {
			return usageError{err}
		}
	}
	return err
}

// modelFlags are the flags every model-running subcommand takes.
type modelFlags struct {
	model     string
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
	if f.smooth != "" && f.smooth != "auto" {
		if _, err := pipeline.ParseSmoothing(f.smooth); err != nil {
			return roi, dev, usageError{err}
		}
	}
	return roi, dev, nil
}

// maxAutoWorkers bounds --workers auto: past 4 instances each added one
// costs its memory (about 30 MB) for ever smaller gains, and ONNX Runtime's
// own threads use the remaining cores better.
const maxAutoWorkers = 4

// resolveWorkers settles --workers 0 (auto) for the source in sf, before
// any model is loaded. A video file read as fast as it decodes is a
// throughput job: one model instance per core, each single-threaded, keeps
// every core on inference (on 2 cores: 219 FPS end to end against 170 for
// one two-threaded instance, see README "Performance"). Anything else may be
// a live source delivering 30 or 60 frames a second, where what counts is
// how fresh the label is: one instance using every core (5.5 ms per frame
// against 9 ms). An explicit --workers or --threads is kept.
func (f *modelFlags) resolveWorkers(sf *sourceFlags, cores int) {
	if f.workers != 0 {
		return
	}
	f.workers = 1
	spec, err := capture.ParseSpec(sf.input)
	if err != nil || spec.Kind != capture.File || sf.realtime || cores < 2 {
		return
	}
	f.workers = min(cores, maxAutoWorkers)
	if f.threads == 0 {
		f.threads = max(1, cores/f.workers)
	}
}

// smoother returns the smoother the flags ask for; "auto" smooths live
// sources only, so a file's frames are judged one by one. nil means off.
func (f *modelFlags) smoother(live bool) (pipeline.Smoother, string, error) {
	spec := f.smooth
	if spec == "" || spec == "auto" {
		spec = "off"
		if live {
			spec = "ema:0.5"
		}
	}
	if spec == "off" || spec == "none" {
		return nil, "off", nil
	}
	s, err := pipeline.ParseSmoothing(spec)
	if err != nil {
		return nil, spec, usageError{err}
	}
	return s, spec, nil
}

// load finds the model and loads it on the requested device.
func (f *modelFlags) load(env *cliEnv, dev infer.Device) (*infer.Classifier, string, error) {
	path, err := resolveModel(f.model, f.fs.Changed("model"))
	if err != nil {
		return nil, "", err
	}
	cls, err := infer.Load(path, f.inferOptions(env, dev)...)
	return cls, path, err
}

func (f *modelFlags) inferOptions(env *cliEnv, dev infer.Device) []infer.Option {
	return []infer.Option{
		infer.WithLibrary(f.ortLib),
		infer.WithDevice(dev),
		infer.WithThreads(f.threads),
		infer.WithSpinning(f.spin),
		infer.WithLogger(func(msg string) { fmt.Fprintln(env.stderr, "rpscam:", msg) }),
	}
}

// resolveModel returns the model path to load. A path the user gave is used
// as given; the default is looked for in the working directory, then in the
// directories above the executable (a binary built into bin/ of the repo).
func resolveModel(path string, explicit bool) (string, error) {
	if explicit || filepath.IsAbs(path) {
		if _, err := os.Stat(path); err != nil {
			return "", usagef("--model %s: %v", path, errors.Unwrap(err))
		}
		return path, nil
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p, ok := searchpath.Find(path, filepath.Dir(exe)); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s is not in the working directory or above the executable: run scripts/setup.sh to build it, or pass --model path/to/model.onnx", errModelMissing, path)
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
	status        *statusRelay  // where "reconnecting…" goes
	log           io.Writer     // one line per outage and per restoration
}

// addReconnectFlags adds --source-timeout, for the commands that reconnect.
func (f *sourceFlags) addReconnectFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&f.sourceTimeout, "source-timeout", defaultSourceTimeout, "a camera or stream that delivers no frame for this long counts as lost and is reconnected")
}

// defaultSourceTimeout is long enough for a camera renegotiating its format
// or a stream rebuffering, short enough that a bumped USB cable is noticed
// while the user is still looking at the screen.
const defaultSourceTimeout = 5 * time.Second

// statusRelay forwards a source's status to the pipeline, which is made
// after the source is opened.
type statusRelay struct {
	mu sync.Mutex
	to func(string)
	// last is kept so a status set before the pipeline exists is not lost.
	last string
}

func (r *statusRelay) set(status string) {
	r.mu.Lock()
	r.last = status
	to := r.to
	r.mu.Unlock()
	if to != nil {
		to(status)
	}
}

// connect starts forwarding to f, passing on the current status.
func (r *statusRelay) connect(f func(string)) {
	r.mu.Lock()
	r.to = f
	last := r.last
	r.mu.Unlock()
	f(last)
}

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

func (f *sourceFlags) open() (capture.Source, error) {
	if f.input == "" {
		return nil, usagef("--input is empty: give a camera index, file, URL or GStreamer pipeline")
	}
	if (f.width == 0) != (f.height == 0) || f.width < 0 || f.height < 0 {
		return nil, usagef("--width %d --height %d: give both, positive, or neither", f.width, f.height)
	}
	var opts []capture.Option
	if f.width > 0 {
		opts = append(opts, capture.WithSize(f.width, f.height))
	}
	if f.fps != 0 {
		opts = append(opts, capture.WithFPS(f.fps))
	}
	opts = append(opts, capture.WithMJPG(f.mjpg), capture.WithRealtime(f.realtime))
	spec, err := capture.ParseSpec(f.input)
	if err != nil {
		return nil, usageError{err} // a typo or a file that is not there
	}
	if f.sourceTimeout < 0 {
		return nil, usagef("--source-timeout %v is negative: give how long a silent camera is waited for, e.g. 5s", f.sourceTimeout)
	}
	// A file ends; only a camera, device, stream or pipeline can be lost.
	if !f.reconnect || spec.Kind == capture.File {
		return capture.OpenSpec(spec, opts...)
	}
	if f.sourceTimeout > 0 {
		opts = append(opts, capture.WithStallTimeout(f.sourceTimeout))
	}
	backoff := capture.DefaultBackoff
	backoff.GiveUpAfter = f.giveUp
	return capture.Reconnecting(func() (capture.Source, error) { return capture.OpenSpec(spec, opts...) },
		capture.WithBackoff(backoff), capture.WithReconnectListener(f.onReconnect))
}

// onReconnect reports an outage once when it starts and once when it ends,
// and passes every step on as the status the overlay and /healthz show.
func (f *sourceFlags) onReconnect(e capture.ReconnectEvent) {
	if f.status != nil {
		f.status.set(e.Status())
	}
	if f.log == nil {
		return
	}
	switch {
	case e.Restored:
		fmt.Fprintf(f.log, "\nrpscam: %s is back; frames flow again\n", e.Spec)
	case e.Attempt == 1:
		fmt.Fprintf(f.log, "\nrpscam: %v\nrpscam: reconnecting to %s (waits double from %v to %v between attempts; Ctrl-C to stop)\n",
			e.Lost, e.Spec, capture.DefaultBackoff.Initial, capture.DefaultBackoff.Max)
	}
}

// session is everything a pipeline command opens, closed together.
type session struct {
	src       capture.Source
	cls       *infer.Classifier
	parallel  []*infer.Classifier // more instances of the model (--workers)
	modelPath string
	info      capture.Info
	roi       image.Rectangle
	smoother  pipeline.Smoother
	smoothing string
}

// openSession checks the flags, loads the model and opens the source.
func openSession(env *cliEnv, mf *modelFlags, sf *sourceFlags) (*session, error) {
	roi, dev, err := mf.check()
	if err != nil {
		return nil, err
	}
	mf.resolveWorkers(sf, runtime.NumCPU())
	cls, path, err := mf.load(env, dev)
	if err != nil {
		return nil, err
	}
	s := &session{cls: cls, modelPath: path, roi: roi}
	for i := 1; i < mf.workers; i++ {
		more, err := cls.Another()
		if err != nil {
			s.close()
			return nil, err
		}
		s.parallel = append(s.parallel, more)
	}
	if s.src, err = sf.open(); err != nil {
		s.close()
		return nil, err
	}
	s.info = s.src.Info()
	if !roi.Empty() {
		if err := infer.CheckROI(roi, s.info.Width, s.info.Height); err != nil {
			s.close()
			return nil, usagef("--roi: %v", err)
		}
	}
	if s.smoother, s.smoothing, err = mf.smoother(s.info.Live); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) close() {
	if s.src != nil {
		s.src.Close()
	}
	s.cls.Close()
	for _, c := range s.parallel {
		c.Close()
	}
}

// options are the pipeline options every command shares.
func (s *session) options(mf *modelFlags) []pipeline.Option {
	var parallel []pipeline.Classifier
	for _, c := range s.parallel {
		parallel = append(parallel, parts.Classifier(c))
	}
	return []pipeline.Option{
		pipeline.WithParallelClassifiers(parallel...),
		pipeline.WithROI(s.roi),
		pipeline.WithSmoother(s.smoother),
		pipeline.WithThreshold(float32(mf.threshold)),
	}
}

func (s *session) pipelineSource() pipeline.Source { return parts.Source(s.src) }

// describe is one line about the source and model, printed at start.
func (s *session) describe() string {
	kind := "file"
	if s.info.Live {
		kind = "live"
	}
	return fmt.Sprintf("%s (%s, %dx%d @ %.4g fps), model %s on %s (%d instance(s)), smoothing %s",
		s.info.Spec, kind, s.info.Width, s.info.Height, s.info.FPS, s.modelPath, s.cls.Provider(), 1+len(s.parallel), s.smoothing)
}

// progress prints a status line about once a second, rewriting it in place
// on a terminal; into a log or pipe it writes a whole line every 5 seconds,
// so the log stays readable.
type progress struct {
	w    io.Writer
	last time.Time
	verb string
}

func (p *progress) Consume(a *pipeline.Annotated) error {
	terminal := isTerminal(p.w)
	interval := 5 * time.Second
	if terminal {
		interval = time.Second
	}
	if now := time.Now(); now.Sub(p.last) >= interval {
		p.last = now
		line := fmt.Sprintf("%s %d frames, %.1f fps, %s %.0f%%", p.verb, a.Index+1, a.FPS, infer.DisplayLabel(a.Decision.Label), 100*a.Decision.Confidence)
		if terminal {
			fmt.Fprintf(p.w, "\r%s   ", line)
		} else {
			fmt.Fprintln(p.w, line)
		}
	}
	return nil
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return notifyContext(context.Background())
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func runLive(env *cliEnv, args []string) error {
	return exitError(live(env, args))
}

func live(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "live", "[flags]",
		"rpscam live                                  # laptop camera 0",
		"rpscam live --input /dev/video2 --width 1280 --height 720 --fps 30 --mjpg",
		"rpscam live --input out/demo.mp4 --realtime  # rehearse on a clip at its own pace",
		"rpscam live --roi 208,128,224,224 --smooth majority:5 --threshold 0.7",
		"keys: q or Esc quit, space pause, r start/stop recording, s snapshot PNG")
	sf := addSourceFlags(fs, "0")
	sf.addReconnectFlags(fs)
	mf := addModelFlags(fs, true)
	saveDir := fs.String("save-dir", ".", "folder for recordings (r) and snapshots (s)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	}
	// Before anything touches OpenCV's GUI: without a display Qt aborts the
	// whole process, so this is the only chance to say what to do instead.
	if err := sink.DisplayAvailable(); err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	// A camera that drops out is reopened with backoff for as long as the
	// window is open; the window says so meanwhile.
	sf.reconnect, sf.status, sf.log = true, &statusRelay{}, env.stderr
	s, err := openSession(env, mf, sf)
	if err != nil {
		return err
	}
	defer s.close()
	win, err := sink.NewWindow("rpscam", s.info.Width, s.info.Height)
	if err != nil {
		return err
	}
	defer win.Close()
	drawer := overlay.NewDrawer()
	defer drawer.Close()
	inW, inH := s.cls.InputSize()
	ann := parts.NewAnnotator(drawer, inW, inH)
	ws := &windowSink{env: env, ctx: ctx, win: win, ann: ann, drawer: drawer, dir: *saveDir, fps: s.info.FPS, last: gocv.NewMat(), frozen: gocv.NewMat()}
	defer ws.close()
	defer ws.stopRecording()
	opts := append(s.options(mf), pipeline.WithAnnotator(ann), pipeline.WithSinks(ws), pipeline.WithIdle(idleRedraw, ws.idle))
	p, err := pipeline.New(s.pipelineSource(), parts.Classifier(s.cls), opts...)
	if err != nil {
		return err
	}
	sf.status.connect(p.SetStatus)
	fmt.Fprintf(env.stderr, "live: %s\nkeys: q/Esc quit, space pause, r record, s snapshot\n", s.describe())
	st, err := p.Run(ctx)
	ws.stopRecording()
	fmt.Fprintf(env.stdout, "frames processed: %d, dropped by the source: %d, %.1f fps\n", st.Frames, st.Dropped, st.FPS)
	return err
}

// Key codes as OpenCV's WaitKey reports them (low byte).
const (
	keyEsc   = 27
	keySpace = ' '
)

// windowSink shows frames and handles the keys. Pausing blocks in Consume,
// which holds the pipeline back: a file waits where it is, a camera keeps
// only its newest frame (and counts the rest as dropped).
type windowSink struct {
	env    *cliEnv
	ctx    context.Context
	win    *sink.Window
	ann    *parts.Annotator
	drawer *overlay.Drawer // the annotator's: idle runs on the same goroutine
	dir    string
	fps    float64
	rec    *sink.Recorder
	last   gocv.Mat // the last frame shown, redrawn with the status while none comes
	frozen gocv.Mat // last with the status banner
}

// idleRedraw is how often the window is redrawn and its keys read while no
// frame comes: often enough that q answers at once.
const idleRedraw = 100 * time.Millisecond

func (w *windowSink) Consume(a *pipeline.Annotated) error {
	a.Mat.CopyTo(&w.last)
	if w.rec != nil {
		if err := w.rec.Write(a.Mat); err != nil {
			fmt.Fprintf(w.env.stderr, "rpscam: recording stopped: %v\n", err)
			w.stopRecording()
		}
	}
	return w.handle(a, w.win.Show(a.Mat))
}

func (w *windowSink) handle(a *pipeline.Annotated, key int) error {
	if w.win.UserClosed() {
		return pipeline.ErrStop
	}
	switch key & 0xff {
	case 'q', 'Q', keyEsc:
		return pipeline.ErrStop
	case 'r', 'R':
		if w.rec != nil {
			w.stopRecording()
			return nil
		}
		path := filepath.Join(w.dir, "rpscam-"+time.Now().Format("20060102-150405")+".mp4")
		rec, err := sink.NewRecorder(path, w.fps, a.Mat.Cols(), a.Mat.Rows())
		if err != nil {
			fmt.Fprintf(w.env.stderr, "rpscam: cannot record: %v\n", err)
			return nil
		}
		w.rec = rec
		w.ann.SetRecording(true)
		fmt.Fprintf(w.env.stderr, "recording to %s (r to stop)\n", path)
	case 's', 'S':
		path := filepath.Join(w.dir, "rpscam-"+time.Now().Format("20060102-150405.000")+".png")
		if gocv.IMWrite(path, a.Mat) {
			fmt.Fprintf(w.env.stderr, "snapshot %s\n", path)
		} else {
			fmt.Fprintf(w.env.stderr, "rpscam: could not write snapshot %s\n", path)
		}
	case keySpace:
		return w.pause(a)
	}
	return nil
}

// pause shows the current frame with a "paused" banner until space (resume)
// or a quit key, the window closing or Ctrl-C.
func (w *windowSink) pause(a *pipeline.Annotated) error {
	frozen := a.Mat.Clone()
	defer frozen.Close()
	gocv.PutText(&frozen, "PAUSED - space to resume", image.Pt(12, frozen.Rows()-16), gocv.FontHersheySimplex, 0.7, color.RGBA{255, 255, 255, 0}, 2)
	for {
		if w.ctx.Err() != nil || w.win.UserClosed() {
			return pipeline.ErrStop
		}
		switch w.win.Show(frozen) & 0xff {
		case keySpace:
			return nil
		case 'q', 'Q', keyEsc:
			return pipeline.ErrStop
		case 's', 'S':
			if err := w.handle(a, 's'); err != nil {
				return err
			}
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// idle keeps the window alive while no frame comes (the camera is being
// reconnected): the last frame with the status banner, and the quit keys.
func (w *windowSink) idle(status string) error {
	if w.ctx.Err() != nil || w.win.UserClosed() {
		return pipeline.ErrStop
	}
	img := w.last
	if status != "" && !w.last.Empty() {
		w.last.CopyTo(&w.frozen)
		if err := w.drawer.DrawStatus(&w.frozen, status); err != nil {
			return err
		}
		img = w.frozen
	}
	switch w.win.Show(img) & 0xff {
	case 'q', 'Q', keyEsc:
		return pipeline.ErrStop
	}
	return nil
}

func (w *windowSink) close() {
	w.last.Close()
	w.frozen.Close()
}

func (w *windowSink) stopRecording() {
	if w.rec == nil {
		return
	}
	err := w.rec.Close()
	fmt.Fprintf(w.env.stderr, "recorded %d frames to %s\n", w.rec.Frames(), w.rec.Path())
	if err != nil {
		fmt.Fprintf(w.env.stderr, "rpscam: finishing %s: %v\n", w.rec.Path(), err)
	}
	w.rec = nil
	w.ann.SetRecording(false)
}
