package teach

import (
	"context"
	"errors"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"
)

func TestTeacherTrainsSwapsAndResets(t *testing.T) {
	lib, shared := teachEnv(t)
	samples := userSamples(t, shared, 10, fourClasses)
	out := filepath.Join(t.TempDir(), "taught.onnx")
	var swapped []string
	failSwap := false
	teacher, err := NewTeacher(quickConfig(lib, shared, samples, out), func(path string) error {
		if failSwap {
			return errors.New("input contract differs")
		}
		swapped = append(swapped, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	if got := strings.Join(teacher.Classes(), ","); got != "rock,paper,scissors,none" {
		t.Errorf("Classes = %s, want the base model's labels", got)
	}
	frame := solid(t, 320, 240, color.RGBA{R: 90, G: 60, B: 30})
	defer frame.Close()
	if err := teacher.AddSample("none", frame, image.Rectangle{}); err != nil {
		t.Fatal(err)
	}
	if got := teacher.Counts()["none"]; got != 11 {
		t.Errorf("Counts[none] = %d, want 10 copied + 1 recorded", got)
	}
	if recent, err := teacher.Recent("none", 1); err != nil || len(recent) != 1 || filepath.Base(recent[0]) != "000001.png" {
		t.Errorf("Recent = %v, %v; want the recorded 000001.png (numbered after the copied files' names)", recent, err)
	}

	// A second Train while one runs is refused; the first goes on.
	var busyErr error
	res, err := teacher.Train(context.Background(), func(p Progress) {
		if busyErr == nil {
			_, busyErr = teacher.Train(context.Background(), nil)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(busyErr, ErrBusy) {
		t.Errorf("Train during Train: err = %v, want ErrBusy", busyErr)
	}
	if len(swapped) != 1 || swapped[0] != out || teacher.ModelPath() != out || res.Model != out {
		t.Errorf("swapped %v, ModelPath %s: want the taught model %s swapped in once", swapped, teacher.ModelPath(), out)
	}
	if res.SwapTook <= 0 || res.SwapTook > res.Took {
		t.Errorf("SwapTook %v, Took %v: want 0 < SwapTook <= Took", res.SwapTook, res.Took)
	}

	// A swap that fails leaves the running model in place.
	failSwap = true
	if err := teacher.Reset(); err == nil {
		t.Error("Reset with a failing swap succeeded")
	}
	if _, err := teacher.Train(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "running model is unchanged") {
		t.Errorf("Train with a failing swap: err = %v", err)
	}
	if teacher.ModelPath() != out {
		t.Errorf("ModelPath = %s after failed swaps, want %s still", teacher.ModelPath(), out)
	}
	failSwap = false
	if err := teacher.Reset(); err != nil {
		t.Fatal(err)
	}
	if teacher.ModelPath() != shippedBase || swapped[len(swapped)-1] != shippedBase {
		t.Errorf("after Reset ModelPath = %s, last swap %s: want the base %s", teacher.ModelPath(), swapped[len(swapped)-1], shippedBase)
	}
}

func TestNewTeacherNeedsSwapAndOut(t *testing.T) {
	if _, err := NewTeacher(Config{Out: "x.onnx"}, nil); err == nil || !strings.Contains(err.Error(), "swap") {
		t.Errorf("nil swap: err = %v", err)
	}
	if _, err := NewTeacher(Config{}, func(string) error { return nil }); err == nil || !strings.Contains(err.Error(), "Config.Out") {
		t.Errorf("no Out: err = %v", err)
	}
}
