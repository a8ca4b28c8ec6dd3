package capture

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// scriptedReader delivers n frames, then blocks until stop (a stalled
// camera), or returns end.
type scriptedReader struct {
	seq    int
	n      int
	end    error // nil: stall after n frames
	closed chan struct{}
}

func (r *scriptedReader) next(stop <-chan struct{}, dst *gocv.Mat) error {
	if r.seq >= r.n {
		if r.end != nil {
			return r.end
		}
		<-stop
		return ErrClosed
	}
	if dst.Empty() {
		*dst = gocv.NewMatWithSize(8, 8, gocv.MatTypeCV8UC3)
	}
	dst.SetTo(gocv.NewScalar(float64(r.seq%256), 0, 0, 0))
	r.seq++
	return nil
}

func (r *scriptedReader) close() { close(r.closed) }

func startScripted(t *testing.T, n int, end error, cfg config) (*liveSource, *scriptedReader) {
	t.Helper()
	r := &scriptedReader{n: n, end: end, closed: make(chan struct{})}
	pool := &matPool{}
	first := pool.get()
	if err := r.next(nil, &first); err != nil {
		t.Fatal(err)
	}
	return newLiveSource(r, pool, Info{Spec: "scripted", Kind: Camera, Live: true}, first, time.Now(), 0, cfg), r
}

func TestStallTimeoutReportsLost(t *testing.T) {
	cfg := defaultConfig()
	cfg.stallTimeout = 30 * time.Millisecond
	src, r := startScripted(t, 1, nil, cfg)
	_, release, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	_, _, err = src.Read(context.Background())
	if !errors.Is(err, ErrSourceLost) {
		t.Fatalf("Read from a stalled source: %v, want ErrSourceLost", err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.closed:
	default:
		t.Error("Close returned before the grabber closed the reader")
	}
}

func TestLiveDeliversLastFramesBeforeError(t *testing.T) {
	lost := errors.New("unplugged")
	src, _ := startScripted(t, 4, lost, defaultConfig())
	defer src.Close()
	<-src.exited // the grabber has produced all 4 frames and stopped
	f, release, err := src.Read(context.Background())
	if err != nil || f.Seq != 3 {
		t.Fatalf("first Read after the end: seq %d, %v; want the newest frame, seq 3", f.Seq, err)
	}
	release()
	if _, _, err := src.Read(context.Background()); !errors.Is(err, lost) {
		t.Errorf("then: %v, want the grabber's error", err)
	}
	if st := src.Stats(); st.Dropped != 3 || st.Read != 1 {
		t.Errorf("Stats %+v, want Read 1 Dropped 3", st)
	}
}

func TestEndErrorByKind(t *testing.T) {
	for _, tt := range []struct {
		spec   Spec
		finite bool
		want   error
	}{
		{Spec{Kind: File, Raw: "a.mp4"}, false, io.EOF},
		{Spec{Kind: Camera, Raw: "0"}, false, ErrSourceLost},
		{Spec{Kind: Device, Raw: "/dev/video0"}, false, ErrSourceLost},
		{Spec{Kind: URL, Raw: "rtsp://h/s"}, false, ErrSourceLost},
		{Spec{Kind: URL, Raw: "http://h/a.mp4"}, true, io.EOF},
		{Spec{Kind: GStreamer, Raw: "videotestsrc num-buffers=3 ! appsink"}, false, io.EOF},
		{Spec{Kind: GStreamer, Raw: "v4l2src ! videoconvert ! appsink"}, false, ErrSourceLost},
		{Spec{Kind: GStreamer, Raw: "videotestsrc is-live=true ! appsink"}, false, ErrSourceLost},
	} {
		r := &vcReader{spec: tt.spec, finite: tt.finite}
		if err := r.endError(); !errors.Is(err, tt.want) {
			t.Errorf("%v %q: end error %v, want %v", tt.spec.Kind, tt.spec.Raw, err, tt.want)
		}
	}
}

func TestToBGR(t *testing.T) {
	scratch := gocv.NewMat()
	defer scratch.Close()
	grey := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(9, 0, 0, 0), 2, 3, gocv.MatTypeCV8UC1)
	defer func() { grey.Close() }()
	if err := toBGR(&grey, &scratch); err != nil {
		t.Fatal(err)
	}
	if grey.Type() != gocv.MatTypeCV8UC3 || grey.GetVecbAt(1, 2)[2] != 9 {
		t.Errorf("grey -> %v %v, want 8UC3 of 9s", grey.Type(), grey.GetVecbAt(1, 2))
	}
	bgra := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(1, 2, 3, 4), 2, 2, gocv.MatTypeCV8UC4)
	defer func() { bgra.Close() }()
	if err := toBGR(&bgra, &scratch); err != nil {
		t.Fatal(err)
	}
	if v := bgra.GetVecbAt(0, 0); bgra.Channels() != 3 || v[0] != 1 || v[1] != 2 || v[2] != 3 {
		t.Errorf("bgra -> %d channels %v, want BGR 1,2,3", bgra.Channels(), v)
	}
	f32 := gocv.NewMatWithSize(2, 2, gocv.MatTypeCV32FC3)
	defer f32.Close()
	if err := toBGR(&f32, &scratch); err == nil {
		t.Error("float frame accepted")
	}
}
