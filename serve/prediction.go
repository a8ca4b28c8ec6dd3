package serve

import (
	"fmt"
	"math"
	"time"

	"github.com/rpscam/rpscam/infer"
)

// Prediction is what the pipeline knows about one processed frame.
type Prediction struct {
	Labels      []string      // class names, in model output order
	Probs       []float32     // one probability per label
	Label       string        // the model's label of the decision (may be "" or "uncertain"; "none": no hand)
	Confidence  float32       // probability of Label
	Uncertain   bool          // the top probability was below the pipeline's threshold
	Seq         uint64        // the pipeline's frame number
	CaptureTime time.Time     // when the source delivered the frame
	Latency     time.Duration // capture to annotated frame
	InferMs     float64       // model inference time for this frame
	FPS         float64       // the pipeline's processed frames per second; 0 lets the hub measure it
}

// validate rejects predictions a client could not render; it runs on the
// pipeline goroutine so a programming error is reported where it is made.
func (p Prediction) validate() error {
	if len(p.Labels) != len(p.Probs) {
		return fmt.Errorf("serve: prediction has %d labels but %d probabilities: pass one probability per label", len(p.Labels), len(p.Probs))
	}
	for i, v := range p.Probs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("serve: probability of %q is %v: the model produced a non-finite output", p.Labels[i], v)
		}
	}
	return nil
}

// predictionJSON is the wire form of a prediction in /api/prediction and
// /api/events. Field names are a public API: add, never rename.
type predictionJSON struct {
	Seq           uint64             `json:"seq"`        // the server's frame sequence number, monotonic across source reconnects
	SourceSeq     uint64             `json:"source_seq"` // the pipeline's own frame number
	Label         string             `json:"label"`      // the model's label; "none" is the no-hand class
	Confidence    float32            `json:"confidence"`
	Uncertain     bool               `json:"uncertain"`
	Classes       []string           `json:"classes"`       // class order of the model
	Probabilities map[string]float32 `json:"probabilities"` // class -> probability
	CaptureTime   time.Time          `json:"capture_time"`
	PublishTime   time.Time          `json:"publish_time"`
	LatencyMs     float64            `json:"latency_ms"` // capture to annotated frame
	InferMs       float64            `json:"infer_ms"`
	FPS           float64            `json:"fps"`
	Width         int                `json:"width"`
	Height        int                `json:"height"`
	// Display is label as a person should read it ("no hand" for "none",
	// the label itself otherwise) and DisplayClasses the same for classes,
	// in the same order: clients show these and key on label and classes.
	Display        string   `json:"display"`
	DisplayClasses []string `json:"display_classes"`
	// Hand is false when label is the no-hand class (or there is no label):
	// a model without a "none" class always reports a hand.
	Hand bool `json:"hand"`
}

func (f *Frame) predictionJSON() predictionJSON {
	p := f.Prediction
	probs := make(map[string]float32, len(p.Labels))
	for i, l := range p.Labels {
		probs[l] = p.Probs[i]
	}
	classes := p.Labels
	if classes == nil {
		classes = []string{}
	}
	display := make([]string, len(classes))
	for i, l := range classes {
		display[i] = infer.DisplayLabel(l)
	}
	return predictionJSON{
		Seq:            f.Seq,
		SourceSeq:      p.Seq,
		Label:          p.Label,
		Confidence:     p.Confidence,
		Uncertain:      p.Uncertain,
		Classes:        classes,
		Probabilities:  probs,
		CaptureTime:    p.CaptureTime,
		PublishTime:    f.Published,
		LatencyMs:      float64(p.Latency) / float64(time.Millisecond),
		InferMs:        p.InferMs,
		FPS:            f.FPS,
		Width:          f.Width,
		Height:         f.Height,
		Display:        infer.DisplayLabel(p.Label),
		DisplayClasses: display,
		Hand:           infer.IsHand(p.Label),
	}
}
