package infer

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzContractMetadata feeds arbitrary model metadata values to the parsers
// of the metadata contract (labels, scale/offset lists, layout, colour,
// output kind) and to the labels file reader: none may panic, and what
// they accept must be usable.
func FuzzContractMetadata(f *testing.F) {
	for _, s := range []string{"rock,paper,scissors", " a , b ", "a,,b", "", ",", "0.0039215686", "0.5,0.5,0.5", "1,2",
		"NaN", "inf,1,1", "1e39", "-0", "NHWC", "nchw", "BGR", "logits", "probabilities", "rock\npaper\n\nscissors\n", "\x00\xff"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, v string) {
		if labels, err := parseLabelList(v); err == nil {
			if len(labels) == 0 {
				t.Fatalf("parseLabelList(%q) accepted no labels", v)
			}
			for _, l := range labels {
				if l == "" || l != strings.TrimSpace(l) {
					t.Fatalf("parseLabelList(%q) gave label %q", v, l)
				}
			}
		}
		for _, key := range []string{KeyInputScale, KeyInputOffset} {
			vals, err := parsePerChannel(key, v, 1.0/255)
			if err != nil {
				if !strings.Contains(err.Error(), key) {
					t.Fatalf("parsePerChannel error %q does not name %s", err, key)
				}
				continue
			}
			for _, x := range vals {
				if math.IsNaN(float64(x)) {
					t.Fatalf("parsePerChannel(%q) accepted NaN: %v", v, vals)
				}
			}
		}
		_, _ = parseColor(v)
		_, _ = parseOutputKind(v)
		for _, dims := range [][]int64{{1, 224, 224, 3}, {-1, 3, 224, 224}, {1, 1, 1, 1}} {
			_, _ = parseLayout(v, dims)
		}
		p := filepath.Join(dir, "fuzz.labels")
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		if labels, err := readLabelFile(p); err == nil {
			if len(labels) == 0 {
				t.Fatalf("readLabelFile accepted %q with no labels", v)
			}
			for _, l := range labels {
				if l == "" {
					t.Fatalf("readLabelFile(%q) gave an empty label", v)
				}
			}
		}
	})
}
