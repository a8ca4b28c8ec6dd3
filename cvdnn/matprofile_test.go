//go:build matprofile

package cvdnn

import (
	"image"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/tinymodel"
)

// TestNoLeakedMats: a classifier and its second instance, used and closed,
// leave gocv's open-Mat count where it was.
// Run with: go test -tags matprofile ./cvdnn/
func TestNoLeakedMats(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "tiny.onnx"), filepath.Join(dir, "cv.onnx")
	if err := tinymodel.Write(src, tinymodel.RPSShaped(8)); err != nil {
		t.Fatal(err)
	}
	if err := Export(src, dst); err != nil {
		t.Fatal(err)
	}
	frame := solid(64, 48, 0, 0, 255)
	defer frame.Close()
	before := gocv.MatProfile.Count()
	c, err := Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	more, err := c.Another()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Classifier{c, more} {
		for i := 0; i < 3; i++ {
			if r, err := m.Classify(frame, image.Rectangle{}); err != nil || r.Label != "rock" {
				t.Fatalf("classify: %s %v", r.Label, err)
			}
		}
		m.Close()
		m.Close()
	}
	if after := gocv.MatProfile.Count(); after != before {
		t.Fatalf("%d Mats open before, %d after", before, after)
	}
}
