package infer

import (
	"strings"
	"testing"
)

func TestParseLayout(t *testing.T) {
	for _, tc := range []struct {
		meta string
		dims []int64
		want Layout
		err  string
	}{
		{"", []int64{-1, 224, 224, 3}, NHWC, ""},
		{"", []int64{1, 3, 224, 224}, NCHW, ""},
		{"", []int64{1, 1, 28, 28}, NCHW, ""},
		{"", []int64{1, 28, 28, 1}, NHWC, ""},
		{"", []int64{1, 3, 8, 1}, NCHW, ""}, // colour reading preferred
		{"", []int64{1, 3, 8, 3}, "", "ambiguous"},
		{"nchw", []int64{1, 3, 8, 3}, NCHW, ""},
		{"", []int64{1, 224, 224, 4}, "", "no channel dimension"},
		{"CHW", []int64{1, 3, 8, 8}, "", "not NHWC or NCHW"},
	} {
		got, err := parseLayout(tc.meta, tc.dims)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("parseLayout(%q, %v) = %v, %v; want error %q", tc.meta, tc.dims, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Fatalf("parseLayout(%q, %v) = %v, %v; want %v", tc.meta, tc.dims, got, err, tc.want)
		}
	}
}

func TestParseContractValues(t *testing.T) {
	if got, err := parsePerChannel(KeyInputScale, " 0.5 ", 1); err != nil || got != [3]float32{0.5, 0.5, 0.5} {
		t.Fatalf("one scale: %v %v", got, err)
	}
	if got, err := parsePerChannel(KeyInputOffset, "-2.1, -2.0,-1.8", 0); err != nil || got != [3]float32{-2.1, -2.0, -1.8} {
		t.Fatalf("three offsets: %v %v", got, err)
	}
	if got, _ := parsePerChannel(KeyInputScale, "", 1.0/255); got != [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255} {
		t.Fatalf("default scale: %v", got)
	}
	for _, bad := range []string{"1,2", "x", "1,inf,2", "NaN"} {
		if _, err := parsePerChannel(KeyInputScale, bad, 1); err == nil {
			t.Fatalf("parsePerChannel(%q) accepted", bad)
		}
	}
	if l, err := parseLabelList(" rock, paper ,scissors"); err != nil || strings.Join(l, "|") != "rock|paper|scissors" {
		t.Fatalf("labels %v %v", l, err)
	}
	if _, err := parseLabelList("rock,,scissors"); err == nil || !strings.Contains(err.Error(), "label 1 is empty") {
		t.Fatalf("empty label: %v", err)
	}
	if c, err := parseColor("bgr"); err != nil || c != BGR {
		t.Fatalf("bgr: %v %v", c, err)
	}
	if _, err := parseColor("YUV"); err == nil {
		t.Fatal("YUV accepted")
	}
	if k, err := parseOutputKind("logits"); err != nil || k != Logits {
		t.Fatalf("logits: %v %v", k, err)
	}
	if _, err := parseOutputKind("sigmoid"); err == nil {
		t.Fatal("sigmoid accepted")
	}
}
