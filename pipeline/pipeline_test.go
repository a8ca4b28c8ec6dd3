package pipeline

import (
	"context"
	"errors"
	"image"
	"image/color"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

func checkReleased(t *testing.T, src *fakeSource) {
	t.Helper()
	if r, rel, d := src.reads.Load(), src.releases.Load(), src.double.Load(); r != rel || d != 0 {
		t.Fatalf("source handed out %d frames, %d released, %d released twice", r, rel, d)
	}
}

func TestEveryFrameInOrderWithExactPredictions(t *testing.T) {
	src := &fakeSource{w: 64, h: 48, n: 30}
	sink := newRecordingSink()
	p, err := New(src, &meanColourClassifier{}, WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 30 || st.Measured != 30 || st.Interrupted || st.Stopped {
		t.Fatalf("stats %+v, want 30 frames, all measured, not interrupted", st)
	}
	want := []string{"red", "green", "blue"}
	for i, seq := range sink.seqs {
		if seq != uint64(i) {
			t.Fatalf("frame %d has Seq %d: frames out of order %v", i, seq, sink.seqs)
		}
		if sink.labels[i] != want[i%3] {
			t.Errorf("frame %d labelled %q, want %q", i, sink.labels[i], want[i%3])
		}
		// A solid primary colour: the probability of its class is exactly 1.
		if p := sink.probs[i][i%3]; p != 1 {
			t.Errorf("frame %d: probs %v, want 1 at %d", i, sink.probs[i], i%3)
		}
	}
	if len(sink.seqs) != 30 {
		t.Fatalf("sink saw %d frames, want 30", len(sink.seqs))
	}
	checkReleased(t, src)
	for s := Stage(0); s < NumStages; s++ {
		if st.Stages[s].Count != 30 {
			t.Errorf("stage %v has %d samples, want 30", s, st.Stages[s].Count)
		}
	}
	if st.Stages[StagePreprocess].P50 != time.Microsecond {
		t.Errorf("preprocess p50 %v, want the classifier's reported 1µs", st.Stages[StagePreprocess].P50)
	}
	if st.FPS <= 0 || st.Elapsed <= 0 || st.Latency.Count != 30 {
		t.Errorf("fps %v elapsed %v latency %+v", st.FPS, st.Elapsed, st.Latency)
	}
}

func TestROIIsClassified(t *testing.T) {
	// The whole frame is red, but a green patch covers the ROI.
	src := &fakeSource{w: 64, h: 48, n: 1}
	roi := image.Rect(10, 10, 30, 30)
	cls := &meanColourClassifier{}
	sink := newRecordingSink()
	p, err := New(sourceFunc(func(ctx context.Context) (Frame, func(), error) {
		f, rel, err := src.Read(ctx)
		if err == nil {
			r := f.Mat.Region(roi)
			r.SetTo(gocv.NewScalar(0, 255, 0, 0))
			r.Close()
		}
		return f, rel, err
	}), cls, WithROI(roi), WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.labels) != 1 || sink.labels[0] != "green" {
		t.Fatalf("labels %v, want [green] from the ROI", sink.labels)
	}
	checkReleased(t, src)
}

type sourceFunc func(ctx context.Context) (Frame, func(), error)

func (f sourceFunc) Read(ctx context.Context) (Frame, func(), error) { return f(ctx) }

func TestAnnotatorDrawsBeforeSinksSeeTheFrame(t *testing.T) {
	src := &fakeSource{w: 32, h: 32, n: 3}
	white := AnnotatorFunc(func(img *gocv.Mat, a *Annotated) error {
		if a.Decision.Label == "" {
			t.Error("annotator called without a decision")
		}
		gocv.Rectangle(img, image.Rect(0, 0, 4, 4), color.RGBA{255, 255, 255, 0}, -1)
		return nil
	})
	sink := newRecordingSink()
	p, err := New(src, &meanColourClassifier{}, WithAnnotator(white), WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, px := range sink.pixel {
		if px[0] != 255 || px[1] != 255 || px[2] != 255 {
			t.Fatalf("frame %d pixel (1,1) = %v, want white from the annotator", i, px)
		}
	}
	checkReleased(t, src)
}

type fixedSmoother struct {
	out   []float32
	calls int
}

func (s *fixedSmoother) Update(probs []float32) []float32 { s.calls++; return s.out }
func (s *fixedSmoother) Reset()                           {}

func TestSmootherAndThreshold(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: 4}
	sm := &fixedSmoother{out: []float32{0.2, 0.5, 0.3}}
	sink := newRecordingSink()
	var decisions []Decision
	sink.hook = func(a *Annotated) { decisions = append(decisions, a.Decision) }
	p, err := New(src, &meanColourClassifier{}, WithSmoother(sm), WithThreshold(0.6), WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sm.calls != 4 {
		t.Fatalf("smoother called %d times, want 4", sm.calls)
	}
	for i, d := range decisions {
		if d != (Decision{Top: 1, Label: "green", Confidence: 0.5, Uncertain: true}) {
			t.Errorf("frame %d decision %+v, want green 0.5 uncertain (below 0.6)", i, d)
		}
		if !slices.Equal(sink.probs[i], sm.out) {
			t.Errorf("frame %d probs %v, want the smoothed %v", i, sink.probs[i], sm.out)
		}
		if sink.raw[i][i%3] != 1 {
			t.Errorf("frame %d raw %v, want the classifier's own output", i, sink.raw[i])
		}
	}
}

func TestDecide(t *testing.T) {
	d := Decide([]float32{0.1, 0.7, 0.2}, []string{"rock", "paper", "scissors"}, 0.7)
	if d != (Decision{Top: 1, Label: "paper", Confidence: 0.7}) {
		t.Fatalf("decision %+v: 0.7 at threshold 0.7 is certain", d)
	}
	d = Decide([]float32{0.1, 0.2, 0.3, 0.4}, []string{"a"}, 0)
	if d.Top != 3 || d.Label != "class 3" {
		t.Fatalf("decision %+v, want class 3 for a label-less index", d)
	}
	if d := Decide(nil, nil, 0.5); d.Top != -1 || !d.Uncertain {
		t.Fatalf("decision on no probabilities %+v", d)
	}
}

func TestWarmupAndFrameLimit(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: -1}
	sink := newRecordingSink()
	p, err := New(src, &meanColourClassifier{}, WithMaxFrames(25), WithWarmup(5), WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 25 || st.Measured != 20 || len(sink.seqs) != 25 {
		t.Fatalf("frames %d measured %d sink %d, want 25/20/25", st.Frames, st.Measured, len(sink.seqs))
	}
	if src.reads.Load() != 25 {
		t.Fatalf("source read %d times, want exactly 25", src.reads.Load())
	}
	if st.Stages[StageInference].Count != 20 || st.Latency.Count != 20 {
		t.Fatalf("inference samples %d, latency samples %d, want 20 after warm-up", st.Stages[StageInference].Count, st.Latency.Count)
	}
	checkReleased(t, src)
}

func TestSinkStopEndsCleanly(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: -1}
	sink := newRecordingSink()
	sink.stopAt = 5
	p, err := New(src, &meanColourClassifier{}, WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatalf("ErrStop must not be an error: %v", err)
	}
	if !st.Stopped || st.Interrupted || st.Frames != 6 || len(sink.seqs) != 6 {
		t.Fatalf("stats %+v, sink saw %d: want stopped after 6 frames", st, len(sink.seqs))
	}
	checkReleased(t, src)
}

func TestFailuresReleaseEveryFrame(t *testing.T) {
	cases := []struct {
		name   string
		src    *fakeSource
		cls    *meanColourClassifier
		sink   func() *recordingSink
		want   string
		frames int
	}{
		{"source", &fakeSource{w: 16, h: 16, n: -1, failAt: 7}, &meanColourClassifier{}, newRecordingSink, "capture: fake source broke", 7},
		{"classifier", &fakeSource{w: 16, h: 16, n: -1}, &meanColourClassifier{failAt: 4}, newRecordingSink, "frame 4: classify: fake classifier broke", 4},
		{"sink", &fakeSource{w: 16, h: 16, n: -1}, &meanColourClassifier{}, func() *recordingSink { s := newRecordingSink(); s.failAt = 3; return s }, "output, frame 3: disk full", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sink := c.sink()
			p, err := New(c.src, c.cls, WithSinks(sink))
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.Run(context.Background())
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if st.Frames != c.frames {
				t.Fatalf("frames %d, want %d processed before the failure", st.Frames, c.frames)
			}
			checkReleased(t, c.src)
		})
	}
	// The source's error stays inspectable.
	p, _ := New(&fakeSource{w: 8, h: 8, n: -1, failAt: 1}, &meanColourClassifier{})
	if _, err := p.Run(context.Background()); !errors.Is(err, errFake) {
		t.Fatalf("error %v does not wrap the source's error", err)
	}
}

func TestCancelDrainsFramesInFlight(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: -1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := newRecordingSink()
	sink.hook = func(a *Annotated) {
		if a.Index == 10 {
			cancel()
		}
	}
	p, err := New(src, &meanColourClassifier{}, WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Interrupted {
		t.Fatalf("stats %+v: want Interrupted", st)
	}
	// Frames read before the cancel still reach the sink: every frame the
	// source handed out and that was not abandoned at the channel is counted.
	if st.Frames != len(sink.seqs) || st.Frames < 11 {
		t.Fatalf("frames %d, sink saw %d: want equal and at least 11", st.Frames, len(sink.seqs))
	}
	checkReleased(t, src)
}

// TestStagesOverlap proves the stages run concurrently, without timing: the
// classifier, on frame i, waits until the sink is inside Consume for frame
// i-1, and the sink does not return from frame i-1 until the classifier has
// started frame i. Run in sequence, the two would wait for each other forever.
func TestStagesOverlap(t *testing.T) {
	const n = 6
	clsStarted := make([]chan struct{}, n)
	sinkStarted := make([]chan struct{}, n)
	for i := range n {
		clsStarted[i] = make(chan struct{})
		sinkStarted[i] = make(chan struct{})
	}
	wait := func(ch chan struct{}, who string, i int) {
		select {
		case <-ch:
		case <-time.After(10 * time.Second): // deadlock detection, not a speed check
			t.Errorf("%s %d waited for its neighbour stage in vain: the stages do not overlap", who, i)
		}
	}
	cls := &meanColourClassifier{before: func(call int) {
		close(clsStarted[call])
		if call > 0 {
			wait(sinkStarted[call-1], "classify", call)
		}
	}}
	sink := newRecordingSink()
	sink.hook = func(a *Annotated) {
		close(sinkStarted[a.Index])
		if a.Index+1 < n {
			wait(clsStarted[a.Index+1], "consume", a.Index)
		}
	}
	src := &fakeSource{w: 16, h: 16, n: n}
	p, err := New(src, cls, WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil || st.Frames != n {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	checkReleased(t, src)
}

func TestStatusAndDrops(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: 6}
	var heard []string
	var p *Pipeline
	sink := newRecordingSink()
	sink.hook = func(a *Annotated) {
		switch a.Index {
		case 1:
			src.dropped.Store(4)
			p.SetStatus("reconnecting")
		case 3:
			p.SetStatus("")
		}
	}
	p, err := New(src, &meanColourClassifier{}, WithSinks(sink), WithStatusListener(func(s string) { heard = append(heard, s) }))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "", "reconnecting", "reconnecting", "", ""}; !slices.Equal(sink.statuses, want) {
		t.Fatalf("statuses %q, want %q", sink.statuses, want)
	}
	if want := []string{"reconnecting", ""}; !slices.Equal(heard, want) {
		t.Fatalf("listener heard %q, want %q", heard, want)
	}
	if st.Dropped != 4 || sink.dropped[5] != 4 || sink.dropped[0] != 0 {
		t.Fatalf("dropped: stats %d, per frame %v", st.Dropped, sink.dropped)
	}
}

func TestConstructorAndOptionErrors(t *testing.T) {
	src := &fakeSource{w: 8, h: 8, n: 1}
	cls := &meanColourClassifier{}
	cases := []struct {
		name string
		src  Source
		cls  Classifier
		opts []Option
		want string
	}{
		{"nil source", nil, cls, nil, "nil Source"},
		{"nil classifier", src, nil, nil, "nil Classifier"},
		{"threshold", src, cls, []Option{WithThreshold(1.5)}, "threshold 1.5 is outside [0, 1]"},
		{"frames", src, cls, []Option{WithMaxFrames(-1)}, "frame limit -1 is negative"},
		{"warmup", src, cls, []Option{WithWarmup(10), WithMaxFrames(10)}, "leaves none of the 10-frame limit"},
		{"queue", src, cls, []Option{withQueueDepth(0)}, "queue depth 0 is outside 1..64"},
		{"nil sink", src, cls, []Option{WithSinks(nil)}, "sink 0 is nil"},
		{"nil annotator", src, cls, []Option{WithAnnotator(nil)}, "WithAnnotator(nil)"},
	}
	for _, c := range cases {
		_, err := New(c.src, c.cls, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
	p, err := New(src, cls)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Run called twice") {
		t.Fatalf("second Run: %v", err)
	}
	checkReleased(t, src)
}

func TestStageNames(t *testing.T) {
	var names []string
	for s := Stage(0); s < NumStages; s++ {
		names = append(names, s.String())
	}
	want := []string{"capture", "preprocess", "inference", "postprocess", "overlay", "output"}
	if !slices.Equal(names, want) {
		t.Fatalf("stage names %v, want %v", names, want)
	}
}

func TestStagedClassifierEveryFrameInOrder(t *testing.T) {
	for _, depth := range []int{1, 3} {
		src := &fakeSource{w: 64, h: 48, n: 31}
		cls := &stagedMeanColour{}
		sink := newRecordingSink()
		var annotatorSaw time.Duration
		ann := AnnotatorFunc(func(_ *gocv.Mat, a *Annotated) error { annotatorSaw = a.Timings[StageInference]; return nil })
		p, err := New(src, cls, WithSinks(sink), withQueueDepth(depth), WithAnnotator(ann))
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Frames != 31 || cls.preCalls != 31 || cls.inferCalls != 31 || cls.calls != 0 {
			t.Fatalf("depth %d: frames %d, preprocess %d, infer %d, Classify %d: want 31/31/31/0", depth, st.Frames, cls.preCalls, cls.inferCalls, cls.calls)
		}
		want := []string{"red", "green", "blue"}
		for i, l := range sink.labels {
			if sink.seqs[i] != uint64(i) || l != want[i%3] {
				t.Fatalf("depth %d frame %d: seq %d label %q, want %d %q", depth, i, sink.seqs[i], l, i, want[i%3])
			}
		}
		if p50 := st.Stages[StagePreprocess].P50; p50 <= 0 || p50 >= time.Hour {
			t.Fatalf("preprocess p50 %v: want the pipeline's own measurement, not the Prediction's", p50)
		}
		if st.Stages[StageInference].P50 != time.Microsecond {
			t.Fatalf("inference p50 %v, want the reported 1µs", st.Stages[StageInference].P50)
		}
		if annotatorSaw != time.Microsecond {
			t.Fatalf("the annotator saw inference time %v, want 1µs", annotatorSaw)
		}
		checkReleased(t, src)
	}
}

func TestStagedClassifierFailures(t *testing.T) {
	cases := []struct {
		name string
		cls  *stagedMeanColour
		want string
	}{
		{"preprocess", &stagedMeanColour{preFailAt: 5}, "frame 5: preprocess: fake preprocess broke"},
		{"infer", &stagedMeanColour{inferFailAt: 6}, "frame 6: infer: fake inference broke"},
	}
	for _, c := range cases {
		src := &fakeSource{w: 16, h: 16, n: -1}
		p, err := New(src, c.cls, withQueueDepth(2))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Run(context.Background())
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		checkReleased(t, src)
	}
}

// TestPreprocessOverlapsInference: Infer on frame i waits until Preprocess
// has finished frame i+1, which a serial classifier could never do.
func TestPreprocessOverlapsInference(t *testing.T) {
	const n = 5
	prepared := make([]chan struct{}, n+1)
	for i := range prepared {
		prepared[i] = make(chan struct{})
	}
	cls := &stagedMeanColour{}
	cls.beforeInfer = func(call int) {
		if call+1 >= n {
			return
		}
		select {
		case <-prepared[call+1]:
		case <-time.After(10 * time.Second): // deadlock detection only
			t.Errorf("inference of frame %d never overlapped the preprocessing of frame %d", call, call+1)
		}
	}
	inner := &fakeSource{w: 16, h: 16, n: n}
	wrapped := &preprocessSignal{stagedMeanColour: cls, done: prepared}
	p, err := New(inner, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil || st.Frames != n {
		t.Fatalf("frames %d err %v", st.Frames, err)
	}
	checkReleased(t, inner)
}

type preprocessSignal struct {
	*stagedMeanColour
	done []chan struct{}
	n    int
}

func (p *preprocessSignal) Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error {
	err := p.stagedMeanColour.Preprocess(bgr, roi, dst)
	close(p.done[p.n])
	p.n++
	return err
}

// TestLiveSourceReadOnDemand: from a live source, frame k is read only after
// the classifier has finished frame k-1, so no frame waits in a queue while
// the camera moves on. (A file source is read ahead instead.)
func TestLiveSourceReadOnDemand(t *testing.T) {
	cls := &countingClassifier{}
	src := &liveFake{fakeSource: &fakeSource{w: 16, h: 16, n: 12}, completed: &cls.completed}
	sink := newRecordingSink()
	p, err := New(src, cls, WithSinks(sink), withQueueDepth(4))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil || st.Frames != 12 {
		t.Fatalf("frames %d err %v", st.Frames, err)
	}
	for k, done := range src.seen {
		if k < 12 && done < int64(k) {
			t.Fatalf("frame %d was read when only %d classifications had finished: read ahead of demand (reads saw %v)", k, done, src.seen)
		}
	}
	checkReleased(t, src.fakeSource)

	// The same source, not live, is read ahead: some frame is read before
	// the classification of the one before it has finished. With a
	// classifier that waits for the read of the next frame, that is certain.
	var reads atomic.Int64
	ahead := &meanColourClassifier{}
	file := &countingSource{fakeSource: &fakeSource{w: 16, h: 16, n: 6}, reads: &reads}
	ahead.before = func(call int) {
		for deadline := time.Now().Add(10 * time.Second); reads.Load() < int64(call+2) && call+2 <= 6; {
			if time.Now().After(deadline) {
				t.Errorf("file source was not read ahead of classify %d", call)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	p, err = New(file, ahead)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Run(context.Background()); err != nil || st.Frames != 6 {
		t.Fatalf("file: frames %d err %v", st.Frames, err)
	}
}

// TestLiveSourceFeedsEveryWorker: from a live source, each of several
// inference workers gets a frame of its own. Each classification here waits
// until all four workers hold one, so a worker that is never fed (its
// requested frame taken by another) fails it.
func TestLiveSourceFeedsEveryWorker(t *testing.T) {
	const workers = 4
	var inside atomic.Int64
	allIn := make(chan struct{})
	newCls := func() *meanColourClassifier {
		c := &meanColourClassifier{}
		c.before = func(int) {
			if inside.Add(1) == workers {
				close(allIn)
			}
			select {
			case <-allIn:
			case <-time.After(10 * time.Second):
				t.Errorf("only %d of %d workers got a frame from the live source", inside.Load(), workers)
			}
		}
		return c
	}
	var completed atomic.Int64
	src := &liveFake{fakeSource: &fakeSource{w: 16, h: 16, n: workers}, completed: &completed}
	p, err := New(src, newCls(), WithParallelClassifiers(newCls(), newCls(), newCls()))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Run(context.Background()); err != nil || st.Frames != workers {
		t.Fatalf("frames %d err %v", st.Frames, err)
	}
	checkReleased(t, src.fakeSource)
}

type countingSource struct {
	*fakeSource
	reads *atomic.Int64
}

func (c *countingSource) Read(ctx context.Context) (Frame, func(), error) {
	f, r, err := c.fakeSource.Read(ctx)
	if err == nil {
		c.reads.Add(1)
	}
	return f, r, err
}

func TestLiveStagedAndCancel(t *testing.T) {
	var completed atomic.Int64
	src := &liveFake{fakeSource: &fakeSource{w: 16, h: 16, n: -1}, completed: &completed}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := newRecordingSink()
	sink.hook = func(a *Annotated) {
		if a.Index == 9 {
			cancel()
		}
	}
	p, err := New(src, &stagedMeanColour{}, WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(ctx)
	if err != nil || !st.Interrupted || st.Frames < 10 || st.Frames != len(sink.seqs) {
		t.Fatalf("stats %+v err %v sink %d", st, err, len(sink.seqs))
	}
	want := []string{"red", "green", "blue"}
	for i, l := range sink.labels {
		if l != want[i%3] {
			t.Fatalf("frame %d %q", i, l)
		}
	}
	checkReleased(t, src.fakeSource)
}

// orderSmoother records the top class of every distribution it sees.
type orderSmoother struct{ tops []int }

func (o *orderSmoother) Reset() { o.tops = nil }

func (o *orderSmoother) Update(p []float32) []float32 {
	o.tops = append(o.tops, Decide(p, nil, 0).Top)
	return p
}

// TestParallelClassifiersReorder runs two classifier instances. The first
// holds its first frame until the second has finished a later one, so
// frames complete out of order; the sink and the smoother must still see
// capture order, and both instances must have worked.
func TestParallelClassifiersReorder(t *testing.T) {
	for _, staged := range []bool{false, true} {
		secondDone := make(chan struct{})
		hold := func(call int) { // first instance: hold frame 0
			if call == 0 {
				select {
				case <-secondDone:
				case <-time.After(10 * time.Second): // deadlock detection only
					t.Error("the second classifier never ran while the first held a frame")
				}
			}
		}
		signal := func(call int) { // second instance: it has finished a frame
			if call == 1 {
				close(secondDone)
			}
		}
		a, b := &stagedMeanColour{}, &stagedMeanColour{}
		var first, second Classifier
		if staged {
			a.beforeInfer, b.beforeInfer = hold, signal
			first, second = a, b
		} else {
			a.before, b.before = hold, signal
			first, second = &a.meanColourClassifier, &b.meanColourClassifier
		}
		sm := &orderSmoother{}
		src := &fakeSource{w: 16, h: 16, n: 20}
		sink := newRecordingSink()
		p, err := New(src, first, WithParallelClassifiers(second), WithSmoother(sm), WithSinks(sink))
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Run(context.Background())
		if err != nil || st.Frames != 20 {
			t.Fatalf("staged=%v: frames %d err %v", staged, st.Frames, err)
		}
		for i := range sink.seqs {
			if sink.seqs[i] != uint64(i) || sink.labels[i] != []string{"red", "green", "blue"}[i%3] || sm.tops[i] != i%3 {
				t.Fatalf("staged=%v frame %d: seq %d label %s, smoother saw class %d: out of order", staged, i, sink.seqs[i], sink.labels[i], sm.tops[i])
			}
		}
		ran := func(c *stagedMeanColour) int {
			if staged {
				return c.inferCalls
			}
			return c.calls
		}
		if ran(a) == 0 || ran(b) < 2 || ran(a)+ran(b) != 20 {
			t.Fatalf("staged=%v: instances ran %d and %d frames", staged, ran(a), ran(b))
		}
		checkReleased(t, src)
	}
}

func TestParallelClassifierValidation(t *testing.T) {
	src := &fakeSource{w: 8, h: 8, n: 1}
	if _, err := New(src, &stagedMeanColour{}, WithParallelClassifiers(&meanColourClassifier{})); err == nil || !strings.Contains(err.Error(), "prepared input") {
		t.Fatalf("staged with a plain instance: %v", err)
	}
	four := &fourLabels{}
	if _, err := New(src, &meanColourClassifier{}, WithParallelClassifiers(four)); err == nil || !strings.Contains(err.Error(), "has 4 labels, the first has 3") {
		t.Fatalf("label mismatch: %v", err)
	}
	if _, err := New(src, &meanColourClassifier{}, WithParallelClassifiers(nil)); err == nil {
		t.Fatal("nil parallel classifier accepted")
	}
}

type fourLabels struct{ meanColourClassifier }

func (fourLabels) Labels() []string { return []string{"a", "b", "c", "d"} }
