package serve

import (
	"bufio"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// A viewer that stops reading must not hold back the pipeline or another
// viewer, and once it reads again it must get the newest frame rather than a
// backlog. Asserted by frame counts, not by timing: the publisher publishes
// frame i only after the fast viewer has received frame i, so if the stalled
// viewer could block Publish or the fast viewer, the test would hang.
func TestStalledViewerNeverSlowsPipelineOrOtherViewers(t *testing.T) {
	hub, _, ts := newTestServer(t, withWriteTimeout(time.Minute))

	// Noise does not compress, so each frame is a few hundred KB and the
	// stalled viewer's socket buffers fill after a handful of frames.
	const frames = 60
	noise := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC3)
	defer noise.Close()
	publishNoise := func(seq uint64) {
		gocv.RandU(&noise, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(255, 255, 255, 0))
		if err := hub.Publish(noise, testPrediction("rock", seq)); err != nil {
			t.Fatal(err)
		}
	}
	publishNoise(1)

	// The stalled viewer: a raw connection that sends its request and then
	// reads nothing until the end. (Its receive buffer only grows while it
	// reads, so it stays at the kernel's initial size.)
	stalled, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/stream.mjpg", nil)
	if err := req.Write(stalled); err != nil {
		t.Fatal(err)
	}

	fast, closeFast := openStream(t, ts.URL+"/stream.mjpg")
	defer closeFast()
	var bytesSent int
	for i := uint64(1); i <= frames; i++ {
		if i > 1 {
			publishNoise(i)
		}
		seq, data := readPart(t, fast)
		if seq != i {
			t.Fatalf("fast viewer got frame %d, want %d: it must get every frame", seq, i)
		}
		bytesSent += len(data)
	}
	t.Logf("published %d frames, %d KB in all", frames, bytesSent/1024)
	if bytesSent < 8<<20 {
		t.Fatalf("only %d bytes published: too little to fill the stalled viewer's socket buffers", bytesSent)
	}

	// Now the stalled viewer reads everything until the stream ends.
	hub.Close()
	resp, err := http.ReadResponse(bufio.NewReader(stalled), req)
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var seqs []uint64
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		data, err := io.ReadAll(part)
		if err != nil {
			break
		}
		decodeJPEG(t, data)
		seq, _ := strconv.ParseUint(part.Header.Get("X-Frame-Seq"), 10, 64)
		seqs = append(seqs, seq)
	}
	t.Logf("stalled viewer received frames %v", seqs)
	if len(seqs) == 0 || len(seqs) >= frames {
		t.Fatalf("stalled viewer received %d frames, want some but fewer than %d (it must skip)", len(seqs), frames)
	}
	if last := seqs[len(seqs)-1]; last != frames {
		t.Fatalf("stalled viewer's last frame is %d, want the newest, %d", last, frames)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("stalled viewer's frames go backwards: %v", seqs)
		}
	}
	// The skipped-frames metric accounts for exactly the stalled viewer's gaps.
	skipped := metricValue(t, parseMetrics(t, ts.URL), "rpscam_client_frames_skipped_total", map[string]string{"endpoint": "stream"}).GetCounter().GetValue()
	if want := float64(frames - len(seqs)); skipped != want {
		t.Fatalf("skipped frames metric = %v, want %v", skipped, want)
	}
}
