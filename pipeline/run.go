package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Pipeline is one configured run. Create it with New, run it once with Run.
type Pipeline struct {
	src     Source
	models  models
	workers int // inference goroutines: the instances per model
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
	set, err := newModelSet(append([]Classifier{cls}, cfg.parallel...))
	if err != nil {
		return nil, err
	}
	p := &Pipeline{src: src, workers: len(set.workers), cfg: cfg}
	p.models.cur = set
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
	release  func()    // releases the frame and the hold on set
	set      *modelSet // the model current when the frame was read
	index    int
	readDone time.Time
	input    []byte        // the prepared frame, with a StagedClassifier
	free     chan<- []byte // where input goes back when inference is done with it
	raw      []float32
	probs    []float32
	decision Decision
	t        Timings
}

// returnInput gives the prepared frame's buffer back to preprocessing. It
// cannot block: no more buffers exist than free holds.
func (j *job) returnInput() {
	if j.input != nil {
		j.free <- j.input
		j.input = nil
	}
}

// Run processes frames until the source ends, the frame limit is reached, a
// sink returns ErrStop or ctx is cancelled; none of those is an error. Frames
// already in flight when ctx is cancelled are still processed and consumed,
// so a recorder holds every frame that was counted. Run may be called once.
func (p *Pipeline) Run(ctx context.Context) (Stats, error) {
	if !p.started.CompareAndSwap(false, true) {
		return Stats{}, errors.New("pipeline: Run called twice: make a new Pipeline for each run")
	}
	r := p.newRun(ctx)
	defer r.cancel()
	r.wg.Add(2) // capture and sequence; preprocessing adds itself
	go r.capture()
	receive := r.receiveCaptured
	// Swap keeps every set staged or every set not.
	if first := p.models.current(); first.staged != nil {
		receive = r.startPreprocess(first.inputBytes)
	}
	r.workersDone.Add(p.workers)
	for i := 0; i < p.workers; i++ {
		go r.infer(i, receive)
	}
	go func() {
		r.workersDone.Wait()
		close(r.inferred)
	}()
	go r.sequence()

	stats, outErr := r.output()
	r.wg.Wait()
	if r.hasDrops {
		stats.Dropped = r.drops.Dropped()
	}
	stats.Interrupted = r.captureEndedByCancel && ctx.Err() != nil && !stats.Stopped
	return stats, firstErr(outErr, r.inferErr, r.captureErr)
}

// firstErr is the first non-nil error: the output's, inference's, then
// capture's, the order in which they explain a failed run.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// run is one Run's state: the channels between the stages and what each
// stage reports back. Each stage is one method, run on its own goroutine but
// output, which runs on Run's.
type run struct {
	p *Pipeline
	// stageCtx is cancelled when any stage fails or a sink stops the run, so
	// that capture stops reading; the user's ctx does the same from outside.
	stageCtx context.Context
	cancel   context.CancelFunc
	start    time.Time

	// pull: the source is live and read only when the next stage asks,
	// through demand, for a frame; captured is then unbuffered.
	pull     bool
	handOff  int // frames each channel before inference holds
	demand   chan struct{}
	captured chan *job // capture -> preprocessing (or inference)
	// captureDone is closed when capture has ended (after captured is
	// closed), so that a pull-mode receiver waiting to ask for a frame
	// learns that none will come.
	captureDone chan struct{}
	inferred    chan *job // inference workers -> sequence
	toOutput    chan *job // sequence -> output

	wg          sync.WaitGroup // capture, preprocessing, sequence
	workersDone sync.WaitGroup

	captureErr           error
	captureEndedByCancel bool
	inferErr             error
	inferErrOnce         sync.Once
	inferFailed          atomic.Bool

	drops    DropCounter
	hasDrops bool
}

func (p *Pipeline) newRun(ctx context.Context) *run {
	r := &run{p: p, start: time.Now(), handOff: p.cfg.queueDepth}
	r.stageCtx, r.cancel = context.WithCancel(ctx)
	ls, isLive := p.src.(LiveSource)
	if r.pull = isLive && ls.Live(); r.pull {
		r.handOff = 0
	}
	r.demand = make(chan struct{})
	r.captured = make(chan *job, r.handOff)
	r.captureDone = make(chan struct{})
	r.inferred = make(chan *job, p.workers)
	r.toOutput = make(chan *job, p.cfg.queueDepth)
	r.drops, r.hasDrops = p.src.(DropCounter)
	return r
}

// capture reads frames from the source into captured.
func (r *run) capture() {
	defer r.wg.Done()
	defer close(r.captureDone)
	defer close(r.captured)
	for i := 0; r.p.cfg.maxFrames == 0 || i < r.p.cfg.maxFrames; i++ {
		if r.pull {
			select {
			case <-r.demand:
			case <-r.stageCtx.Done():
				r.captureEndedByCancel = true
				return
			}
		}
		t0 := time.Now()
		f, release, err := r.p.src.Read(r.stageCtx)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case r.stageCtx.Err() != nil:
				r.captureEndedByCancel = true
			default:
				r.captureErr = fmt.Errorf("capture: %w", err)
				r.cancel()
			}
			return
		}
		j := &job{frame: f, index: i, readDone: time.Now()}
		j.set = r.p.models.acquire()
		j.release = func() { release(); r.p.models.release(j.set) }
		j.t[StageCapture] = j.readDone.Sub(t0)
		select {
		case r.captured <- j:
		case <-r.stageCtx.Done():
			j.release()
			r.captureEndedByCancel = true
			return
		}
	}
}

// receiveCaptured is how the stage after capture takes the next frame; in
// pull mode it first asks for one. Capture reads one frame per demand and
// sends it to whichever receiver is waiting, so a receiver must not wait on
// captured before its demand is taken: it would take the frame another
// worker asked for, and that worker would wait for a frame nobody asks for
// (with several inference workers, some sat idle). It waits for capture's
// end instead.
func (r *run) receiveCaptured() (*job, bool) {
	if r.pull {
		select {
		case r.demand <- struct{}{}:
		case <-r.captureDone:
		}
	}
	j, ok := <-r.captured
	return j, ok
}

// setInferErr records the first failure of preprocessing or inference and
// stops the run; later frames are released unprocessed.
func (r *run) setInferErr(err error) {
	r.inferErrOnce.Do(func() {
		r.inferErr = err
		r.inferFailed.Store(true)
		r.cancel()
	})
}

// startPreprocess gives a StagedClassifier's preprocessing its own goroutine
// between capture and inference and returns how inference takes its frames.
// The input buffers circulate through free: one per frame that can be
// between the two stages (in each stage and in the channel), so steady state
// allocates none.
func (r *run) startPreprocess(inputBytes int) func() (*job, bool) {
	prepared := make(chan *job, r.handOff)
	free := make(chan []byte, r.handOff+1+r.p.workers)
	for i := 0; i < cap(free); i++ {
		free <- make([]byte, inputBytes)
	}
	r.wg.Add(1)
	go r.preprocess(prepared, free)
	return func() (*job, bool) {
		j, ok := <-prepared
		return j, ok
	}
}

// preprocess prepares each captured frame, with the first instance of the
// model the frame holds, into a buffer from free and hands it on in prepared.
func (r *run) preprocess(prepared chan<- *job, free chan []byte) {
	defer r.wg.Done()
	defer close(prepared)
	for {
		j, ok := r.receiveCaptured()
		if !ok {
			return
		}
		if r.inferFailed.Load() {
			j.release()
			continue
		}
		j.input = <-free // returned by the inference stage, which never blocks on us
		j.free = free
		t0 := time.Now()
		if err := j.set.staged.Preprocess(j.frame.Mat, r.p.cfg.roi, j.input); err != nil {
			j.returnInput()
			r.setInferErr(fmt.Errorf("frame %d: preprocess: %w", j.frame.Seq, err))
			j.release()
			continue
		}
		j.t[StagePreprocess] = time.Since(t0)
		prepared <- j
	}
}

// infer is inference worker i: it runs instance i of each frame's model on
// frames taken with receive, as long as there are any, so no instance is
// run by two goroutines. Workers may finish frames out of order.
func (r *run) infer(i int, receive func() (*job, bool)) {
	defer r.workersDone.Done()
	for {
		j, ok := receive()
		if !ok {
			return
		}
		var err error
		if !r.inferFailed.Load() {
			err = r.classify(j.set.workers[i], j)
		}
		j.returnInput()
		if err != nil {
			r.setInferErr(fmt.Errorf("frame %d: %w", j.frame.Seq, err))
		}
		if err != nil || r.inferFailed.Load() {
			j.release()
			continue
		}
		r.inferred <- j // sequence always drains
	}
}

// classify runs one worker's classifier on frame j and keeps a copy of the
// raw probabilities (the classifier reuses its buffer).
func (r *run) classify(cls Classifier, j *job) error {
	var pred Prediction
	var err error
	if staged, ok := cls.(StagedClassifier); ok && j.input != nil {
		if pred, err = staged.Infer(j.input); err != nil {
			return fmt.Errorf("infer: %w", err)
		}
	} else {
		if pred, err = cls.Classify(j.frame.Mat, r.p.cfg.roi); err != nil {
			return fmt.Errorf("classify: %w", err)
		}
		j.t[StagePreprocess] = pred.Preprocess
	}
	j.t[StageInference] = pred.Inference
	j.raw = append(j.raw[:0], pred.Probs...)
	return nil
}

// sequence puts the inferred frames back in capture order, which smoothing
// must see them in, smooths and decides, and hands them to the output.
func (r *run) sequence() {
	defer r.wg.Done()
	defer close(r.toOutput)
	pending := map[int]*job{}
	next := 0
	var model *modelSet // of the frame smoothed last
	for j := range r.inferred {
		// Frames inferred before a failure are still shown; the workers
		// stop sending after it.
		pending[j.index] = j
		for {
			j, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if j.set != model && model != nil && r.p.cfg.smoother != nil {
				// The history is of the old model's classes.
				r.p.cfg.smoother.Reset()
			}
			model = j.set
			r.postprocess(j)
			r.toOutput <- j // output always drains, so this cannot block forever
		}
	}
	// Frames after a gap left by a failure are not shown.
	for _, j := range pending {
		j.release()
	}
}

// postprocess smooths and decides, in capture order.
func (r *run) postprocess(j *job) {
	t0 := time.Now()
	smoothed := j.raw
	if r.p.cfg.smoother != nil {
		smoothed = r.p.cfg.smoother.Update(j.raw)
	}
	j.probs = append(j.probs[:0], smoothed...)
	j.decision = Decide(j.probs, j.set.labels, r.p.cfg.threshold)
	j.t[StagePostprocess] = time.Since(t0)
}
