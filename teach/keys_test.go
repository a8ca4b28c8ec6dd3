package teach

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rpscam/rpscam/pipeline"
)

func TestKeysRecordTrainAndReset(t *testing.T) {
	lib, shared := teachEnv(t)
	samples := userSamples(t, shared, 10, fourClasses)
	out := filepath.Join(t.TempDir(), "taught.onnx")
	var mu sync.Mutex
	var swapped []string
	teacher, err := NewTeacher(quickConfig(lib, shared, samples, out), func(path string) error {
		mu.Lock()
		swapped = append(swapped, path)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	var logMu sync.Mutex
	var logged []string
	keys := NewKeys(context.Background(), teacher, 4, func(l string) {
		logMu.Lock()
		logged = append(logged, l)
		logMu.Unlock()
	})
	if h := keys.Help(); !strings.Contains(h, "2 paper") || !strings.Contains(h, "4 none") {
		t.Errorf("Help = %q", h)
	}
	frame := solid(t, 64, 48, color.RGBA{R: 50, G: 100, B: 150})
	defer frame.Close()
	if keys.Key('x') {
		t.Error("x was taken as a teach key")
	}
	if !keys.Key('2') {
		t.Fatal("2 is not a teach key")
	}
	for range 6 { // a burst of 4, then nothing
		keys.RawFrame(frame, image.Rectangle{})
	}
	if got := teacher.Counts()["paper"]; got != 14 {
		t.Errorf("paper samples = %d, want 10 + a burst of 4", got)
	}
	if !keys.Key('t') {
		t.Fatal("t is not a teach key")
	}
	keys.Key('t') // while training: refused, said on log
	keys.Close()  // waits for the training
	if teacher.ModelPath() != out {
		t.Errorf("after t, ModelPath = %s, want %s", teacher.ModelPath(), out)
	}
	keys.Key('0')
	keys.Close()
	mu.Lock()
	if len(swapped) != 2 || swapped[0] != out || swapped[1] != shippedBase {
		t.Errorf("swaps %v, want the taught model then the shipped one", swapped)
	}
	mu.Unlock()
	logMu.Lock()
	all := strings.Join(logged, "\n")
	logMu.Unlock()
	for _, want := range []string{"recording PAPER: 4 frames", "PAPER: 14 samples", "busy", "taught model in use", "shipped model in use"} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
	shown := solid(t, 320, 240, color.RGBA{R: 200, G: 200, B: 200})
	defer shown.Close()
	if err := keys.Consume(&pipeline.Annotated{Mat: shown}); err != nil {
		t.Fatal(err)
	}
	if v := shown.GetVecbAt(238, 316); v[0] > 120 {
		t.Errorf("no status banner drawn: pixel %v", v)
	}
}
