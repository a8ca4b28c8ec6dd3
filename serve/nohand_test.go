package serve

import (
	"encoding/json"
	"slices"
	"testing"
)

// noHandLabels are a 4-class model's classes: the gestures and "none".
var noHandLabels = []string{"rock", "paper", "scissors", "none"}

// publish4 publishes one frame of a 4-class model whose decision is label.
func publish4(t testing.TB, h *Hub, label string, seq uint64) {
	t.Helper()
	p := testPrediction(label, seq)
	p.Labels = noHandLabels
	p.Probs = make([]float32, len(noHandLabels))
	for i, l := range noHandLabels {
		p.Probs[i] = 0.03
		if l == label {
			p.Probs[i] = 0.91
		}
	}
	p.Confidence = 0.91
	m := drawFrame(label, seq, 320, 240)
	defer m.Close()
	if err := h.Publish(m, p); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func TestNoHandPredictionJSONEventsAndMetrics(t *testing.T) {
	hub, _, ts := newTestServer(t)
	events, closeEvents := openEvents(t, ts.URL+"/api/events")
	defer closeEvents()

	publish4(t, hub, "none", 7)
	resp, body := get(t, ts.URL+"/api/prediction")
	wantStatus(t, resp, body, 200, "application/json")
	var p predictionJSON
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	// The machine label stays "none"; what to show and whether there is a
	// hand come beside it.
	if p.Label != "none" || p.Display != "no hand" || p.Hand || p.Uncertain || p.Confidence != 0.91 {
		t.Errorf("label %q display %q hand %v uncertain %v confidence %v, want none / no hand / false / false / 0.91", p.Label, p.Display, p.Hand, p.Uncertain, p.Confidence)
	}
	if !slices.Equal(p.Classes, noHandLabels) || !slices.Equal(p.DisplayClasses, []string{"rock", "paper", "scissors", "no hand"}) {
		t.Errorf("classes %v, display_classes %v", p.Classes, p.DisplayClasses)
	}
	if p.Probabilities["none"] != 0.91 || len(p.Probabilities) != 4 {
		t.Errorf("probabilities %v, want none at 0.91 among 4", p.Probabilities)
	}
	var raw map[string]any
	_ = json.Unmarshal(body, &raw)
	if raw["hand"] != false || raw["display"] != "no hand" {
		t.Errorf(`JSON lacks "hand": false and "display": "no hand": %s`, body)
	}

	// Server-sent events carry the same.
	if _, ev := events.nextPrediction(); ev.Label != "none" || ev.Display != "no hand" || ev.Hand || ev.DisplayClasses[3] != "no hand" {
		t.Errorf("event %+v, want none shown as no hand", ev)
	}

	// Metrics count the machine label and say no hand is present.
	fams := parseMetrics(t, ts.URL)
	if v := metricValue(t, fams, "rpscam_predictions_total", map[string]string{"label": "none"}).GetCounter().GetValue(); v != 1 {
		t.Errorf(`predictions{label="none"} = %v, want 1`, v)
	}
	if v := metricValue(t, fams, "rpscam_hand_present", nil).GetGauge().GetValue(); v != 0 {
		t.Errorf("hand_present after a none = %v, want 0", v)
	}

	// A gesture from the same model is a hand again.
	publish4(t, hub, "paper", 8)
	_, body = get(t, ts.URL+"/api/prediction")
	p = predictionJSON{}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Label != "paper" || p.Display != "paper" || !p.Hand {
		t.Errorf("paper: label %q display %q hand %v", p.Label, p.Display, p.Hand)
	}
	if v := metricValue(t, parseMetrics(t, ts.URL), "rpscam_hand_present", nil).GetGauge().GetValue(); v != 1 {
		t.Errorf("hand_present after paper = %v, want 1", v)
	}
}

// A 3-class model's predictions read as before, and are all hands.
func TestThreeClassPredictionJSONUnchanged(t *testing.T) {
	hub, _, ts := newTestServer(t)
	if v := metricValue(t, parseMetrics(t, ts.URL), "rpscam_hand_present", nil).GetGauge().GetValue(); v != 0 {
		t.Errorf("hand_present before any frame = %v, want 0", v)
	}
	for i, l := range testLabels {
		publish(t, hub, l, uint64(i))
		_, body := get(t, ts.URL+"/api/prediction")
		var p predictionJSON
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Label != l || p.Display != l || !p.Hand || !slices.Equal(p.Classes, testLabels) || !slices.Equal(p.DisplayClasses, testLabels) {
			t.Errorf("%s: label %q display %q hand %v classes %v display_classes %v", l, p.Label, p.Display, p.Hand, p.Classes, p.DisplayClasses)
		}
	}
	if v := metricValue(t, parseMetrics(t, ts.URL), "rpscam_hand_present", nil).GetGauge().GetValue(); v != 1 {
		t.Errorf("hand_present = %v, want 1", v)
	}
}
