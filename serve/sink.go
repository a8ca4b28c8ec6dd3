package serve

import (
	"fmt"
	"image"
	"io"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/pipeline"
)

// Sink is the pipeline sink of `rpscam serve`: it publishes each annotated
// frame to the hub, feeds the recorder (nil: none) and reports the frame's
// stage timings to the server's metrics. It hears the pipeline's status
// changes and passes them to the hub.
type Sink struct {
	hub         *Hub
	srv         *Server
	rec         *VideoRecorder
	log         io.Writer
	lastDropped uint64
}

// NewSink feeds hub, srv and rec (nil: no recording); a recording that
// fails is stopped and said so on log.
func NewSink(hub *Hub, srv *Server, rec *VideoRecorder, log io.Writer) *Sink {
	return &Sink{hub: hub, srv: srv, rec: rec, log: log}
}

// SetStatus passes the pipeline's status on to the hub (/healthz, the page).
func (k *Sink) SetStatus(status string) { k.hub.SetStatus(status) }

// RawFrame offers the frame as captured, before the overlay, to the Teach
// panel (which records it while a class's button is held).
func (k *Sink) RawFrame(frame gocv.Mat, roi image.Rectangle) { k.srv.TeachFrame(frame, roi) }

// Consume publishes one annotated frame.
func (k *Sink) Consume(a *pipeline.Annotated) error {
	if k.rec != nil {
		if err := k.rec.WriteFrameAt(a.Mat, a.Captured); err != nil {
			if path, n, _, stopped := k.rec.StopFailed(); stopped {
				fmt.Fprintf(k.log, "rpscam: recording %s stopped after %d frames: %v\n", path, n, err)
			}
		}
	}
	// StageOutput is still running (this is it), so it is not reported.
	stages := make(map[string]time.Duration, pipeline.StageOutput)
	for st := pipeline.StageCapture; st < pipeline.StageOutput; st++ {
		stages[st.String()] = a.Timings[st]
	}
	dropped := a.Dropped - min(a.Dropped, k.lastDropped)
	k.lastDropped = a.Dropped
	k.srv.ObserveFrame(FrameStats{Stages: stages, Dropped: dropped})
	return k.hub.Publish(a.Mat, Prediction{
		Labels:      a.Labels,
		Probs:       a.Probs,
		Label:       a.Decision.Label,
		Confidence:  a.Decision.Confidence,
		Uncertain:   a.Decision.Uncertain,
		Seq:         a.Seq,
		CaptureTime: a.Captured,
		Latency:     time.Since(a.Captured),
		InferMs:     float64(a.Timings[pipeline.StageInference].Microseconds()) / 1000,
		FPS:         a.FPS,
	})
}
