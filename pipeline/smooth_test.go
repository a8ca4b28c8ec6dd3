package pipeline

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseSmoothing(t *testing.T) {
	for _, in := range []string{"off", "none", "ema:0.5", "ema:1", "majority:1", "majority:5", " EMA:0.25 "} {
		if s, err := ParseSmoothing(in); err != nil || s == nil {
			t.Fatalf("ParseSmoothing(%q) = %v, %v", in, s, err)
		}
	}
	for in, want := range map[string]string{
		"ema":           `alpha ""`,
		"ema:0":         `alpha "0"`,
		"ema:1.5":       `alpha "1.5"`,
		"ema:NaN":       `alpha "NaN"`,
		"majority:0":    `window "0"`,
		"majority:x":    `window "x"`,
		"majority:2000": `window "2000"`,
		"median:3":      "unknown method",
		"off:3":         "no argument",
	} {
		_, err := ParseSmoothing(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "majority:N") {
			t.Fatalf("ParseSmoothing(%q): %v, want error containing %q and the formats", in, err, want)
		}
	}
}

func TestSmoothers(t *testing.T) {
	a, b, c := []float32{1, 0, 0}, []float32{0, 1, 0}, []float32{0, 0, 1}
	cases := []struct {
		spec  string
		in    [][]float32
		want  [][]float32
		reset int // Reset before this step (0 = never)
	}{
		{"off", [][]float32{a, b}, [][]float32{a, b}, 0},
		{"ema:0.5", [][]float32{a, b, b}, [][]float32{{1, 0, 0}, {0.5, 0.5, 0}, {0.25, 0.75, 0}}, 0},
		{"ema:0.5", [][]float32{a, b}, [][]float32{{1, 0, 0}, {0, 1, 0}}, 1},   // reset: starts again from b
		{"ema:0.5", [][]float32{a, {0, 1}}, [][]float32{{1, 0, 0}, {0, 1}}, 0}, // class count change restarts
		{"majority:3", [][]float32{a, b, b, c, c}, [][]float32{{1, 0, 0}, {0.5, 0.5, 0}, {1. / 3, 2. / 3, 0}, {0, 2. / 3, 1. / 3}, {0, 1. / 3, 2. / 3}}, 0},
		{"majority:1", [][]float32{a, c}, [][]float32{a, c}, 0},
	}
	for _, tc := range cases {
		s, err := ParseSmoothing(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range tc.in {
			if tc.reset == i && i > 0 {
				s.Reset()
			}
			got := s.Update(in)
			for j := range got {
				if math.Abs(float64(got[j]-tc.want[i][j])) > 1e-6 {
					t.Fatalf("%s step %d: got %v, want %v", tc.spec, i, got, tc.want[i])
				}
			}
		}
	}
}

// A majority tie goes to the most recent frame's class.
func TestMajorityTieBreak(t *testing.T) {
	s := newMajority(4)
	var out []float32
	for _, top := range []int{0, 2, 2, 0} {
		p := make([]float32, 3)
		p[top] = 0.9
		out = s.Update(p)
	}
	if d := Decide(out, []string{"rock", "paper", "scissors"}, 0.5); d.Label != "rock" || math.Abs(float64(d.Confidence)-0.5) > 1e-6 {
		t.Fatalf("tie 2-2 after latest rock: %+v (shares %v)", d, out)
	}
	// Reset clears the votes.
	s.Reset()
	if out := s.Update([]float32{0, 0.2, 0.8}); !slices.Equal(out, []float32{0, 0, 1}) {
		t.Fatalf("after reset: %v", out)
	}
}

func TestNewEMAClampsAlpha(t *testing.T) {
	for _, alpha := range []float32{0, -1, 2, float32(math.NaN())} {
		s := NewEMA(alpha)
		s.Update([]float32{1, 0})
		if got := s.Update([]float32{0, 1}); !slices.Equal(got, []float32{0, 1}) {
			t.Fatalf("alpha %v: %v, want no smoothing", alpha, got)
		}
	}
	if newMajority(0).Update([]float32{0.1, 0.9})[1] != 1 {
		t.Fatal("NewMajority(0) should behave as window 1")
	}
}

func TestDecideTable(t *testing.T) {
	labels := []string{"rock", "paper", "scissors"}
	for _, tc := range []struct {
		probs     []float32
		threshold float32
		want      Decision
	}{
		{[]float32{0.1, 0.7, 0.2}, 0.5, Decision{Top: 1, Label: "paper", Confidence: 0.7}},
		{[]float32{0.4, 0.35, 0.25}, 0.5, Decision{Top: 0, Label: "rock", Confidence: 0.4, Uncertain: true}},
		{[]float32{0.2, 0.2, 0.6}, 0.6, Decision{Top: 2, Label: "scissors", Confidence: 0.6}}, // at threshold: certain
		{[]float32{0.5, 0.5, 0}, 0, Decision{Top: 0, Label: "rock", Confidence: 0.5}},
		{[]float32{0.1, 0.1, 0.1, 0.7}, 0.5, Decision{Top: 3, Label: "class 3", Confidence: 0.7}}, // more classes than labels
		{nil, 0.5, Decision{Top: -1, Uncertain: true}},
	} {
		if got := Decide(tc.probs, labels, tc.threshold); got != tc.want {
			t.Fatalf("Decide(%v, %v) = %+v, want %+v", tc.probs, tc.threshold, got, tc.want)
		}
	}
}
