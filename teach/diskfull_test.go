package teach

import (
	"github.com/rpscam/rpscam/internal/tmpfstest"

	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// A full disk stops saving with a message naming the fix; the samples saved
// before are kept and no partial file is left.
func TestSamplesOnAFullDisk(t *testing.T) {
	dir := tmpfstest.Mount(t, "400k")
	s, err := OpenSamples(dir, fourClasses)
	if err != nil {
		t.Fatal(err)
	}
	noise := gocv.NewMatWithSize(224, 224, gocv.MatTypeCV8UC3)
	defer noise.Close()
	gocv.RandU(&noise, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(255, 255, 255, 0))
	var saved int
	for ; saved < 20; saved++ {
		if _, err = s.Add("rock", noise); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "free some space") {
		t.Fatalf("after %d samples: err = %v, want no space left and the fix", saved, err)
	}
	names, _ := os.ReadDir(filepath.Join(dir, "rock"))
	if saved == 0 || len(names) != saved || s.Counts()["rock"] != saved {
		t.Errorf("%d saved, %d files, count %d: want the saved ones only", saved, len(names), s.Counts()["rock"])
	}
}

// A taught model that does not fit on the disk is not written; the samples
// and the running model are untouched and the message says what to do.
func TestTrainOnAFullDisk(t *testing.T) {
	lib, shared := teachEnv(t)
	samples := userSamples(t, shared, 10, fourClasses)
	full := tmpfstest.Mount(t, "1m")
	cfg := quickConfig(lib, shared, samples, filepath.Join(full, "taught.onnx"))
	cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	_, err := Train(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "the samples and the running model are unchanged") {
		t.Fatalf("err = %v, want no space left, nothing changed", err)
	}
	if names, _ := os.ReadDir(full); len(names) != 0 {
		t.Errorf("left behind in the full folder: %v", names)
	}
}

// A write that fails for another reason than space (here a folder where
// the model goes) does not tell the user to free space.
func TestTrainOutIsAFolder(t *testing.T) {
	lib, shared := teachEnv(t)
	samples := userSamples(t, shared, 10, fourClasses)
	out := filepath.Join(t.TempDir(), "taught.onnx")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Train(context.Background(), quickConfig(lib, shared, samples, out), nil)
	if err == nil || strings.Contains(err.Error(), "free some space") || !strings.Contains(err.Error(), "choose another --out") {
		t.Fatalf("err = %v, want one saying to choose another --out, not to free space", err)
	}
}
