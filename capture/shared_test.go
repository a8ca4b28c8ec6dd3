package capture_test

import (
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/internal/sharedtest"
)

// sharedDir is the read-only data folder, skipping the test when the CGI
// images are not in it.
func sharedDir(t *testing.T) string {
	t.Helper()
	return sharedtest.Dir(t, "data", "rps-cgi")
}

func TestListImagesOnTheRealDataset(t *testing.T) {
	root := filepath.Join(sharedDir(t), "data", "rps-cgi")
	for split, perClass := range map[string]int{"train": 840, "test": 124, "validation": 11} {
		imgs, err := capture.ListImages(filepath.Join(root, split))
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, img := range imgs {
			counts[img.Class]++
		}
		if len(counts) != 3 || counts["rock"] != perClass || counts["paper"] != perClass || counts["scissors"] != perClass {
			t.Errorf("%s: classes %v, want rock/paper/scissors with %d each", split, counts, perClass)
		}
	}
	// The test split is RGBA PNG: ReadImage must give 3-channel 300x300.
	imgs, err := capture.ListImages(filepath.Join(root, "test", "rock"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := capture.ReadImage(imgs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Type() != gocv.MatTypeCV8UC3 || m.Cols() != 300 || m.Rows() != 300 {
		t.Errorf("%s: %dx%d %v, want 300x300 8UC3", imgs[0].Path, m.Cols(), m.Rows(), m.Type())
	}
}
