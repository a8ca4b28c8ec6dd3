// Package pipeline runs rpscam's real-time loop: capture, classification and
// output as three pipelined stages, each its own goroutine, joined by bounded
// channels, so that decoding frame n+1 and drawing/encoding frame n-1 overlap
// with the inference of frame n.
//
//	Source.Read ─chan─▶ [Preprocess ─chan─▶] Classify or Infer, smoothing, decision ─chan─▶ Annotate, Sink.Consume…
//	 (goroutine)         (goroutine)          (goroutine)                                     (the goroutine that called Run)
//
// The last stage runs on the goroutine that calls Run, so a GUI sink (an
// OpenCV window, which Qt wants driven from one thread) can be used from the
// main goroutine.
//
// # Frames and ownership
//
// A Source hands out a Frame plus a release func. The pipeline owns the
// frame's Mat from Read until it calls release, exactly once, after every
// sink has consumed it (or when the run is abandoned). The Annotator draws on
// that Mat in place: no copy is made between capture and output.
//
// A file source is read ahead: channels hold up to QueueDepth frames each
// (default 1), so decoding overlaps inference, and the file is read only as
// fast as inference goes (backpressure: every frame is processed, in order).
// A live source (LiveSource reporting true: a camera keeps only its newest
// frame and counts the ones it overwrites) is read only when the next stage
// asks for a frame, through unbuffered channels, so what is classified is at
// most one inference old, never a queue of stale frames.
//
// A classifier that implements StagedClassifier gets a fourth stage:
// preprocessing (crop, resize, colour conversion) runs in its own goroutine,
// overlapping the model run of the previous frame, into input buffers that
// circulate between the two stages without allocation.
//
// WithParallelClassifiers adds more instances of the model, each on its own
// goroutine, taking frames as they become free; a sequencing step restores
// capture order before smoothing, so sinks always see frames in order.
//
// # Consumers
//
// Anything that wants the annotated stream — the video recorder, the window,
// the HTTP server — implements Sink:
//
//	type Sink interface{ Consume(a *Annotated) error }
//
// Annotated carries the annotated Mat (valid only during Consume: clone it to
// keep it), the frame's sequence number and capture time, the raw and
// smoothed probabilities, the Decision, the per-stage durations of this frame,
// the running FPS, the source's dropped-frame count and the current status
// line. A Sink that returns ErrStop ends the run cleanly (the q key in a
// window); any other error ends it with that error. Sinks run one after
// another in the order given, on the output goroutine.
//
// Status messages ("reconnecting to rtsp://…") are set with
// (*Pipeline).SetStatus from any goroutine; they appear in Annotated.Status and
// are passed to the WithStatusListener callback. While no frame comes (a
// camera reconnecting), WithIdle keeps the output goroutine's sinks alive: a
// window redraws its last frame with the status and keeps handling keys.
//
// # Statistics
//
// Run returns Stats: frames processed, frames dropped by the source, the
// end-to-end FPS and, per stage (capture/decode, preprocess, inference,
// postprocess, overlay, output), the latency distribution (latency.Summary)
// over the frames after the warm-up (WithWarmup).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/latency"
)

// Frame is one captured picture.
type Frame struct {
	Mat  gocv.Mat // BGR, 8-bit, 3 channels
	Seq  uint64   // the source's frame number; gaps mean dropped frames
	Time time.Time
}

// Source produces frames. Read blocks until a frame is available and returns
// io.EOF after the last one; it returns promptly with ctx's error when ctx is
// cancelled. The pipeline calls release exactly once per frame returned.
// capture.Source satisfies this through a small adapter (see cmd/rpscam).
type Source interface {
	Read(ctx context.Context) (Frame, func(), error)
}

// LiveSource is implemented by sources that can report whether they are
// live: a camera or stream whose Read returns the newest frame. From a live
// source the pipeline reads a frame only when the next stage is ready for
// it (and hands frames on through unbuffered channels), so no frame waits
// in a queue growing stale: what is classified is what the camera sees now.
// A file is read ahead, so decoding overlaps the other stages.
type LiveSource interface {
	Live() bool
}

// DropCounter is implemented by sources that drop frames (a live camera keeps
// only the newest). Dropped must be safe to call from another goroutine.
type DropCounter interface {
	Dropped() uint64
}

// Prediction is a classifier's output for one frame.
type Prediction struct {
	// Probs are the class probabilities. The classifier may reuse this slice
	// on its next call: the pipeline copies it at once.
	Probs      []float32
	Preprocess time.Duration // resize, colour conversion, normalisation
	Inference  time.Duration // the model run alone
}

// Classifier turns a BGR frame into class probabilities. roi is the part of
// the frame to classify; the zero rectangle means the classifier's default.
type Classifier interface {
	Classify(bgr gocv.Mat, roi image.Rectangle) (Prediction, error)
	Labels() []string
}

// StagedClassifier is a Classifier that can split its work in two, so the
// pipeline runs preprocessing in its own stage, overlapping the inference of
// the previous frame, instead of in series with it. Preprocess and Infer are
// called from different goroutines, each always from the same one, and
// concurrently with each other.
type StagedClassifier interface {
	Classifier
	// InputBytes is the size of one preprocessed frame.
	InputBytes() int
	// Preprocess writes roi of bgr (zero: the default crop), prepared for
	// the model, into dst (InputBytes long).
	Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error
	// Infer runs the model on a prepared frame. Prediction.Preprocess is
	// ignored: the pipeline measures the Preprocess call itself.
	Infer(input []byte) (Prediction, error)
}

// Smoother stabilises probabilities over time (EMA, majority vote). Update
// returns the smoothed distribution; the pipeline copies it at once, so it
// may be a reused buffer.
type Smoother interface {
	Update(probs []float32) []float32
}

// Annotator draws the prediction onto the frame in place.
type Annotator interface {
	Annotate(img *gocv.Mat, a *Annotated) error
}

// AnnotatorFunc adapts a function to Annotator.
type AnnotatorFunc func(img *gocv.Mat, a *Annotated) error

// Annotate calls f.
func (f AnnotatorFunc) Annotate(img *gocv.Mat, a *Annotated) error { return f(img, a) }

// Sink consumes annotated frames: a recorder, a window, an HTTP stream.
type Sink interface {
	Consume(a *Annotated) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(a *Annotated) error

// Consume calls f.
func (f SinkFunc) Consume(a *Annotated) error { return f(a) }

// ErrStop, returned by a Sink, ends the run without an error (a quit key).
var ErrStop = errors.New("pipeline: stop requested by a sink")

// Decision is what the frame is judged to show.
type Decision struct {
	Top        int    // index of the most probable class
	Label      string // its label
	Confidence float32
	// Uncertain is true when Confidence is below the threshold: show the
	// label as uncertain rather than as a verdict.
	Uncertain bool
}

// Decide picks the most probable class and compares its probability with
// threshold. labels may be shorter than probs (the label is then "class N").
func Decide(probs []float32, labels []string, threshold float32) Decision {
	if len(probs) == 0 {
		return Decision{Top: -1, Uncertain: true}
	}
	top := 0
	for i, p := range probs {
		if p > probs[top] {
			top = i
		}
	}
	label := fmt.Sprintf("class %d", top)
	if top < len(labels) {
		label = labels[top]
	}
	return Decision{Top: top, Label: label, Confidence: probs[top], Uncertain: probs[top] < threshold}
}

// Stage names a step of the per-frame work.
type Stage int

// The stages, in the order a frame goes through them.
const (
	StageCapture     Stage = iota // Source.Read: decoding, or waiting for a live frame
	StagePreprocess               // resize/convert/normalise (reported by the classifier)
	StageInference                // the model run (reported by the classifier)
	StagePostprocess              // copying, smoothing, deciding
	StageOverlay                  // Annotator.Annotate
	StageOutput                   // every Sink.Consume: encoding, display, streaming
	NumStages
)

// String is the stage's name as bench prints it.
func (s Stage) String() string {
	switch s {
	case StageCapture:
		return "capture"
	case StagePreprocess:
		return "preprocess"
	case StageInference:
		return "inference"
	case StagePostprocess:
		return "postprocess"
	case StageOverlay:
		return "overlay"
	case StageOutput:
		return "output"
	}
	return fmt.Sprintf("stage(%d)", int(s))
}

// Timings holds one duration per Stage.
type Timings [NumStages]time.Duration

// Annotated is one processed frame as a Sink sees it. Its Mat and slices are
// valid only during Consume.
type Annotated struct {
	Mat      gocv.Mat // the annotated BGR frame; clone it to keep it
	Seq      uint64   // the source's frame number
	Index    int      // 0-based count of frames processed in this run
	Captured time.Time
	Labels   []string
	Raw      []float32 // the classifier's probabilities
	Probs    []float32 // after smoothing (the same values as Raw without a Smoother)
	Decision Decision
	ROI      image.Rectangle // as configured; zero means the classifier's default
	// Timings of this frame so far: StageOutput is still running during Consume.
	Timings Timings
	FPS     float64 // end-to-end frames per second, smoothed
	Dropped uint64  // frames the source has dropped so far
	Status  string  // the latest SetStatus message, "" when all is well
}

// Stats summarises a run.
type Stats struct {
	Frames   int    // frames processed (consumed by every sink), warm-up included
	Measured int    // frames after the warm-up, which the numbers below describe
	Dropped  uint64 // frames the source dropped
	// Elapsed is the wall time over which the Measured frames were output:
	// from the output of the last warm-up frame (or the start of Run when
	// there is no warm-up) to the output of the last frame.
	Elapsed time.Duration
	FPS     float64 // Measured / Elapsed
	Stages  [NumStages]latency.Summary
	// Latency is per frame, from Read returning it to the last sink finishing.
	Latency latency.Summary
	// Interrupted is true when the context was cancelled before the source
	// ended or the frame limit was reached (Ctrl-C).
	Interrupted bool
	// Stopped is true when a sink returned ErrStop.
	Stopped bool
}

// config is what the options set.
type config struct {
	annotator  Annotator
	sinks      []Sink
	smoother   Smoother
	threshold  float32
	roi        image.Rectangle
	maxFrames  int
	warmup     int
	queueDepth int
	onStatus   func(string)
	parallel   []Classifier
	idleEvery  time.Duration
	onIdle     func(status string) error
}

// Option configures a Pipeline.
type Option func(*config) error

// WithAnnotator sets what draws on each frame before the sinks see it.
func WithAnnotator(a Annotator) Option {
	return func(c *config) error {
		if a == nil {
			return errors.New("pipeline: WithAnnotator(nil): pass an Annotator or leave the option out")
		}
		c.annotator = a
		return nil
	}
}

// WithSinks adds consumers of the annotated frames, called in order.
func WithSinks(sinks ...Sink) Option {
	return func(c *config) error {
		for i, s := range sinks {
			if s == nil {
				return fmt.Errorf("pipeline: WithSinks: sink %d is nil", i)
			}
		}
		c.sinks = append(c.sinks, sinks...)
		return nil
	}
}

// WithSmoother smooths probabilities across frames; nil turns smoothing off.
func WithSmoother(s Smoother) Option {
	return func(c *config) error { c.smoother = s; return nil }
}

// WithThreshold marks decisions whose confidence is below t as uncertain.
func WithThreshold(t float32) Option {
	return func(c *config) error {
		if t < 0 || t > 1 || t != t {
			return fmt.Errorf("pipeline: threshold %v is outside [0, 1]", t)
		}
		c.threshold = t
		return nil
	}
}

// WithROI classifies only r of every frame (the zero rectangle: the
// classifier's default).
func WithROI(r image.Rectangle) Option {
	return func(c *config) error { c.roi = r; return nil }
}

// WithMaxFrames stops after n frames (warm-up included); 0 means no limit.
func WithMaxFrames(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("pipeline: frame limit %d is negative: use 0 for no limit", n)
		}
		c.maxFrames = n
		return nil
	}
}

// WithWarmup leaves the first n frames out of Stats (the first inferences
// are slow while ONNX Runtime allocates and caches).
func WithWarmup(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("pipeline: warm-up %d is negative", n)
		}
		c.warmup = n
		return nil
	}
}

// WithQueueDepth sets how many frames each channel between stages holds
// (default 1). More smooths out jitter in file processing at the cost of
// memory and, for live sources, latency.
func WithQueueDepth(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("pipeline: queue depth %d is outside 1..64", n)
		}
		c.queueDepth = n
		return nil
	}
}

// WithParallelClassifiers adds more instances of the same model, each run
// on its own goroutine: frames go to whichever instance is free and are put
// back in order before smoothing. On a machine with few cores, two
// single-threaded instances keep the CPU busier than one two-threaded
// instance, whose threads wait for each other whenever decoding or drawing
// takes a core; the price is that each frame's own inference takes longer.
func WithParallelClassifiers(cls ...Classifier) Option {
	return func(c *config) error {
		for i, x := range cls {
			if x == nil {
				return fmt.Errorf("pipeline: WithParallelClassifiers: classifier %d is nil", i)
			}
		}
		c.parallel = append(c.parallel, cls...)
		return nil
	}
}

// WithStatusListener is called (from the goroutine that calls SetStatus)
// whenever the status message changes.
func WithStatusListener(f func(status string)) Option {
	return func(c *config) error { c.onStatus = f; return nil }
}

// WithIdle calls f, on the goroutine that called Run (the sinks'), when no
// frame has come out for every, and again every interval while none does,
// with the current status line. A window uses it to keep handling keys and
// to show "reconnecting…" over its last frame while the source is away;
// without it the window would freeze until frames flow again. f returning
// ErrStop ends the run cleanly; any other error ends it with that error.
func WithIdle(every time.Duration, f func(status string) error) Option {
	return func(c *config) error {
		if every <= 0 || f == nil {
			return fmt.Errorf("pipeline: WithIdle(%v, f): want a positive interval and a function", every)
		}
		c.idleEvery, c.onIdle = every, f
		return nil
	}
}

// Pipeline is one configured run. Create it with New, run it once with Run.
type Pipeline struct {
	src     Source
	cls     Classifier
	workers []Classifier // cls and the parallel instances
	labels  []string
	cfg     config
	status  atomic.Pointer[string]
	started atomic.Bool
}

// New checks the parts and options and returns a pipeline ready to Run.
func New(src Source, cls Classifier, opts ...Option) (*Pipeline, error) {
	if src == nil {
		return nil, errors.New("pipeline: nil Source")
	}
	if cls == nil {
		return nil, errors.New("pipeline: nil Classifier")
	}
	cfg := config{queueDepth: 1}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.maxFrames > 0 && cfg.warmup >= cfg.maxFrames {
		return nil, fmt.Errorf("pipeline: warm-up of %d frames leaves none of the %d-frame limit to measure", cfg.warmup, cfg.maxFrames)
	}
	p := &Pipeline{src: src, cls: cls, labels: cls.Labels(), cfg: cfg}
	p.workers = append([]Classifier{cls}, cfg.parallel...)
	staged, isStaged := cls.(StagedClassifier)
	for i, w := range cfg.parallel {
		if n := len(w.Labels()); n != len(p.labels) {
			return nil, fmt.Errorf("pipeline: parallel classifier %d has %d labels, the first has %d: they must be instances of the same model", i, n, len(p.labels))
		}
		if ws, ok := w.(StagedClassifier); isStaged && (!ok || ws.InputBytes() != staged.InputBytes()) {
			return nil, fmt.Errorf("pipeline: parallel classifier %d does not take the first one's %d-byte prepared input: they must be instances of the same model", i, staged.InputBytes())
		}
	}
	empty := ""
	p.status.Store(&empty)
	return p, nil
}

// SetStatus sets the status line shown with every following frame ("" clears
// it). Safe to call from any goroutine.
func (p *Pipeline) SetStatus(msg string) {
	old := p.status.Swap(&msg)
	if *old != msg && p.cfg.onStatus != nil {
		p.cfg.onStatus(msg)
	}
}

// job is one frame on its way through the stages.
type job struct {
	frame    Frame
	release  func()
	index    int
	readDone time.Time
	input    []byte // the prepared frame, with a StagedClassifier
	raw      []float32
	probs    []float32
	decision Decision
	t        Timings
}

// Run processes frames until the source ends, the frame limit is reached, a
// sink returns ErrStop or ctx is cancelled; none of those is an error. Frames
// already in flight when ctx is cancelled are still processed and consumed,
// so a recorder holds every frame that was counted. Run may be called once.
func (p *Pipeline) Run(ctx context.Context) (Stats, error) {
	if !p.started.CompareAndSwap(false, true) {
		return Stats{}, errors.New("pipeline: Run called twice: make a new Pipeline for each run")
	}
	// stageCtx is cancelled when any stage fails or a sink stops the run, so
	// that capture stops reading; the user's ctx does the same from outside.
	stageCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// captured feeds preprocessing when the classifier is a
	// StagedClassifier, else inference directly.
	ls, isLive := p.src.(LiveSource)
	pull := isLive && ls.Live()
	handOff := p.cfg.queueDepth // frames each channel before inference holds
	if pull {
		handOff = 0
	}
	captured := make(chan *job, handOff)
	demand := make(chan struct{}) // pull mode: the next stage asks for a frame
	toOutput := make(chan *job, p.cfg.queueDepth)
	var (
		wg                    sync.WaitGroup
		captureErr, inferErr  error
		captureEndedByCancel  bool
		inferFailed           atomic.Bool
		start                 = time.Now()
		dropCounter, hasDrops = p.src.(DropCounter)
	)

	wg.Add(2)   // capture and sequence; preprocessing adds itself
	go func() { // capture
		defer wg.Done()
		defer close(captured)
		for i := 0; p.cfg.maxFrames == 0 || i < p.cfg.maxFrames; i++ {
			if pull {
				select {
				case <-demand:
				case <-stageCtx.Done():
					captureEndedByCancel = true
					return
				}
			}
			t0 := time.Now()
			f, release, err := p.src.Read(stageCtx)
			if err != nil {
				switch {
				case errors.Is(err, io.EOF):
				case stageCtx.Err() != nil:
					captureEndedByCancel = true
				default:
					captureErr = fmt.Errorf("capture: %w", err)
					cancel()
				}
				return
			}
			j := &job{frame: f, release: release, index: i, readDone: time.Now()}
			j.t[StageCapture] = j.readDone.Sub(t0)
			select {
			case captured <- j:
			case <-stageCtx.Done():
				release()
				captureEndedByCancel = true
				return
			}
		}
	}()

	// receiveCaptured is how the stage after capture takes the next frame;
	// in pull mode it first asks for one. Capture sends only on demand, so
	// a receive that wins the select means capture has ended.
	receiveCaptured := func() (*job, bool) {
		if pull {
			select {
			case demand <- struct{}{}:
			case j, ok := <-captured:
				return j, ok
			}
		}
		j, ok := <-captured
		return j, ok
	}
	receiveForInference := receiveCaptured

	// setInferErr records the first failure of preprocessing or inference
	// and stops the run; later frames are released unprocessed.
	var inferErrOnce sync.Once
	setInferErr := func(err error) {
		inferErrOnce.Do(func() {
			inferErr = err
			inferFailed.Store(true)
			cancel()
		})
	}

	// With a StagedClassifier, preprocessing gets its own goroutine between
	// capture and inference. Its input buffers circulate through free: one
	// per frame that can be between the two stages (in each stage and in the
	// channel), so steady state allocates none.
	staged, isStaged := p.cls.(StagedClassifier)
	var free chan []byte
	if isStaged {
		prepared := make(chan *job, handOff)
		free = make(chan []byte, handOff+1+len(p.workers)) // one per frame that can be between the stages
		for i := 0; i < cap(free); i++ {
			free <- make([]byte, staged.InputBytes())
		}
		receiveForInference = func() (*job, bool) {
			j, ok := <-prepared
			return j, ok
		}
		wg.Add(1)
		go func() { // preprocess
			defer wg.Done()
			defer close(prepared)
			for {
				j, ok := receiveCaptured()
				if !ok {
					return
				}
				if inferFailed.Load() {
					j.release()
					continue
				}
				j.input = <-free // returned by the inference stage, which never blocks on us
				t0 := time.Now()
				if err := staged.Preprocess(j.frame.Mat, p.cfg.roi, j.input); err != nil {
					free <- j.input
					setInferErr(fmt.Errorf("frame %d: preprocess: %w", j.frame.Seq, err))
					j.release()
					continue
				}
				j.t[StagePreprocess] = time.Since(t0)
				prepared <- j
			}
		}()
	}

	// Inference: one goroutine per classifier instance, all taking frames
	// from the same stage; then sequence puts the frames back in capture
	// order (workers may finish out of order) before smoothing, which must
	// see them in order.
	inferred := make(chan *job, len(p.workers))
	var workersDone sync.WaitGroup
	workersDone.Add(len(p.workers))
	for _, cls := range p.workers {
		go func() {
			defer workersDone.Done()
			for {
				j, ok := receiveForInference()
				if !ok {
					return
				}
				var err error
				if !inferFailed.Load() {
					err = p.infer(cls, j)
				}
				if j.input != nil {
					free <- j.input // cannot block: no more buffers exist than free holds
					j.input = nil
				}
				if err != nil {
					setInferErr(fmt.Errorf("frame %d: %w", j.frame.Seq, err))
				}
				if err != nil || inferFailed.Load() {
					j.release()
					continue
				}
				inferred <- j // sequence always drains
			}
		}()
	}
	go func() {
		workersDone.Wait()
		close(inferred)
	}()
	go func() { // sequence, smooth, decide
		defer wg.Done()
		defer close(toOutput)
		pending := map[int]*job{}
		next := 0
		for j := range inferred {
			// Frames inferred before a failure are still shown; the
			// workers stop sending after it.
			pending[j.index] = j
			for {
				j, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				p.postprocess(j)
				toOutput <- j // output always drains, so this cannot block forever
			}
		}
		// Frames after a gap left by a failure are not shown.
		for _, j := range pending {
			j.release()
		}
	}()

	stats, outErr := p.output(toOutput, start, cancel, dropCounter, hasDrops)
	wg.Wait()
	if hasDrops {
		stats.Dropped = dropCounter.Dropped()
	}
	stats.Interrupted = captureEndedByCancel && ctx.Err() != nil && !stats.Stopped
	switch {
	case outErr != nil:
		return stats, outErr
	case inferErr != nil:
		return stats, inferErr
	case captureErr != nil:
		return stats, captureErr
	}
	return stats, nil
}

// infer runs one worker's classifier on frame j and keeps a copy of the
// raw probabilities (the classifier reuses its buffer).
func (p *Pipeline) infer(cls Classifier, j *job) error {
	var pred Prediction
	var err error
	if staged, ok := cls.(StagedClassifier); ok && j.input != nil {
		if pred, err = staged.Infer(j.input); err != nil {
			return fmt.Errorf("infer: %w", err)
		}
	} else {
		if pred, err = cls.Classify(j.frame.Mat, p.cfg.roi); err != nil {
			return fmt.Errorf("classify: %w", err)
		}
		j.t[StagePreprocess] = pred.Preprocess
	}
	j.t[StageInference] = pred.Inference
	j.raw = append(j.raw[:0], pred.Probs...)
	return nil
}

// postprocess smooths and decides, in capture order.
func (p *Pipeline) postprocess(j *job) {
	t0 := time.Now()
	smoothed := j.raw
	if p.cfg.smoother != nil {
		smoothed = p.cfg.smoother.Update(j.raw)
	}
	j.probs = append(j.probs[:0], smoothed...)
	j.decision = Decide(j.probs, p.labels, p.cfg.threshold)
	j.t[StagePostprocess] = time.Since(t0)
}

// output annotates and hands each frame to the sinks, releases it and keeps
// the statistics. It runs on Run's goroutine.
func (p *Pipeline) output(in <-chan *job, start time.Time, cancel func(), drops DropCounter, hasDrops bool) (Stats, error) {
	var (
		stats      Stats
		failed     error
		stages     [NumStages]latency.Samples
		lat        latency.Samples
		fps        float64
		lastOut    time.Time
		measureAt  = start
		lastMeasTo time.Time
	)
	next := func() (*job, bool) { j, ok := <-in; return j, ok }
	if p.cfg.onIdle != nil {
		idle := time.NewTicker(p.cfg.idleEvery)
		defer idle.Stop()
		next = func() (*job, bool) {
			for {
				select {
				case j, ok := <-in:
					idle.Reset(p.cfg.idleEvery)
					return j, ok
				case <-idle.C:
					if failed != nil || stats.Stopped {
						continue
					}
					if err := p.cfg.onIdle(*p.status.Load()); err != nil {
						if errors.Is(err, ErrStop) {
							stats.Stopped = true
						} else {
							failed = fmt.Errorf("output, while waiting for a frame: %w", err)
						}
						cancel()
					}
				}
			}
		}
	}
	for {
		j, ok := next()
		if !ok {
			break
		}
		if failed != nil || stats.Stopped {
			j.release()
			continue
		}
		a := Annotated{
			Mat:      j.frame.Mat,
			Seq:      j.frame.Seq,
			Index:    j.index,
			Captured: j.frame.Time,
			Labels:   p.labels,
			Raw:      j.raw,
			Probs:    j.probs,
			Decision: j.decision,
			ROI:      p.cfg.roi,
			FPS:      fps,
			Status:   *p.status.Load(),
		}
		if hasDrops {
			a.Dropped = drops.Dropped()
		}
		a.Timings = j.t // what is known so far: the overlay shows inference time
		t0 := time.Now()
		if p.cfg.annotator != nil {
			if err := p.cfg.annotator.Annotate(&a.Mat, &a); err != nil {
				failed = fmt.Errorf("overlay, frame %d: %w", j.frame.Seq, err)
				cancel()
				j.release()
				continue
			}
		}
		t1 := time.Now()
		j.t[StageOverlay] = t1.Sub(t0)
		a.Timings = j.t
		for _, s := range p.cfg.sinks {
			if err := s.Consume(&a); err != nil {
				if errors.Is(err, ErrStop) {
					stats.Stopped = true
				} else {
					failed = fmt.Errorf("output, frame %d: %w", j.frame.Seq, err)
				}
				cancel()
				break
			}
		}
		done := time.Now()
		j.t[StageOutput] = done.Sub(t1)
		j.release()
		if failed != nil {
			continue
		}
		// A frame a sink stopped on was shown to the sinks before it: it counts.
		stats.Frames++
		if !lastOut.IsZero() {
			inst := 1 / done.Sub(lastOut).Seconds()
			if fps == 0 {
				fps = inst
			} else {
				fps += 0.1 * (inst - fps) // EMA over about ten frames
			}
		}
		lastOut = done
		if j.index < p.cfg.warmup {
			measureAt = done
			continue
		}
		stats.Measured++
		lastMeasTo = done
		for s := Stage(0); s < NumStages; s++ {
			stages[s].Add(j.t[s])
		}
		lat.Add(done.Sub(j.readDone))
	}
	for s := Stage(0); s < NumStages; s++ {
		stats.Stages[s] = stages[s].Summary()
	}
	stats.Latency = lat.Summary()
	if stats.Measured > 0 {
		stats.Elapsed = lastMeasTo.Sub(measureAt)
		if stats.Elapsed > 0 {
			stats.FPS = float64(stats.Measured) / stats.Elapsed.Seconds()
		}
	}
	return stats, failed
}
