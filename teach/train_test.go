package teach

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort/orttest"
	"github.com/rpscam/rpscam/internal/sharedtest"
)

// shippedBase is the model setup builds, and its committed parameters.
var (
	shippedBase   = filepath.Join("..", "models", "rps_mobilenetv2.onnx")
	shippedParams = filepath.Join("..", "models", "rps_head.params")
)

// teachEnv is what a real training needs: ONNX Runtime, the shipped model
// and the shared data (backbone weights, licensed images for samples).
func teachEnv(t *testing.T) (lib, shared string) {
	t.Helper()
	lib = orttest.Init(t)
	if _, err := os.Stat(shippedBase); err != nil {
		t.Skipf("shipped model not built (run scripts/setup.sh): %v", err)
	}
	shared = sharedtest.Dir(t, "data", "rps-real", "parikshitkumar1")
	return lib, shared
}

// userSamples copies n images per class of parikshitkumar1 (a licensed
// source, one person) into a samples folder, as a user's captures.
func userSamples(t *testing.T, shared string, n int, classes []string) string {
	t.Helper()
	dir := t.TempDir()
	for _, c := range classes {
		src := filepath.Join(shared, "data", "rps-real", "parikshitkumar1", c)
		names, err := listImages(src)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) < n {
			t.Fatalf("%s has %d images, want %d", src, len(names), n)
		}
		if err := os.MkdirAll(filepath.Join(dir, c), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, name := range names[:n] {
			b, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, c, strings.Repeat("0", 3)+string(rune('a'+i/26))+string(rune('a'+i%26))+filepath.Ext(name))
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func quickConfig(lib, shared, samples, out string) Config {
	return Config{
		Samples: samples, Base: shippedBase, Params: shippedParams, Out: out, Shared: shared, Library: lib,
		CacheDir: filepath.Join(filepath.Dir(out), "cache"), Epochs: 5, General: -1, Seed: 1,
	}
}

func TestTrainWritesATaughtModel(t *testing.T) {
	lib, shared := teachEnv(t)
	samples := userSamples(t, shared, 12, fourClasses)
	out := filepath.Join(t.TempDir(), "taught.onnx")
	var stages []string
	res, err := Train(context.Background(), quickConfig(lib, shared, samples, out), func(p Progress) {
		if len(stages) == 0 || stages[len(stages)-1] != p.Stage {
			stages = append(stages, p.Stage)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// 12 a class, the newest 20% (3) of each held out as one block.
	if res.Trained != 36 || res.HeldOut != 12 || res.General != 0 {
		t.Errorf("trained %d, held out %d, general %d: want 36, 12, 0", res.Trained, res.HeldOut, res.General)
	}
	for _, pc := range res.PerClass {
		if pc.Samples != 12 || pc.HeldOut != 3 {
			t.Errorf("class %s: %d samples, %d held out; want 12, 3", pc.Class, pc.Samples, pc.HeldOut)
		}
	}
	if !slices.Equal(stages, []string{"features", "fit", "export"}) {
		t.Errorf("progress stages %v, want features, fit, export (no general data)", stages)
	}
	if res.Model != out {
		t.Errorf("Model = %q, want %q", res.Model, out)
	}
	c, err := infer.Load(out, infer.WithLibrary(lib), infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		t.Fatalf("the taught model does not load: %v", err)
	}
	defer c.Close()
	if !slices.Equal(c.Labels(), fourClasses) {
		t.Errorf("taught labels %v, want %v", c.Labels(), fourClasses)
	}
	if w, h := c.InputSize(); w != 224 || h != 224 {
		t.Errorf("taught input %dx%d, want the base's 224x224", w, h)
	}
	// The held-out frames of this one person: the taught head scores them
	// as well as the shipped one (which has seen this source) or better.
	if res.After < res.Before || res.After < 0.9 {
		t.Errorf("held-out accuracy before %.3f after %.3f: want after >= before and >= 0.9", res.Before, res.After)
	}
}

func TestTrainSubsetOfClasses(t *testing.T) {
	lib, shared := teachEnv(t)
	three := []string{"rock", "paper", "scissors"}
	samples := userSamples(t, shared, 10, three)
	out := filepath.Join(t.TempDir(), "three.onnx")
	cfg := quickConfig(lib, shared, samples, out)
	cfg.Classes = three
	cfg.HoldOut = -1
	res, err := Train(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.HeldOut != 0 || res.Trained != 30 {
		t.Errorf("held out %d, trained %d: want 0, 30", res.HeldOut, res.Trained)
	}
	c, err := infer.Load(out, infer.WithLibrary(lib), infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !slices.Equal(c.Labels(), three) {
		t.Errorf("labels %v, want %v", c.Labels(), three)
	}
}

func TestTrainRefusesBadInput(t *testing.T) {
	lib, shared := teachEnv(t)
	samples := userSamples(t, shared, 10, []string{"rock", "paper", "scissors"}) // no none
	out := filepath.Join(t.TempDir(), "taught.onnx")

	_, err := Train(context.Background(), quickConfig(lib, shared, samples, out), nil)
	var se *SamplesError
	if !errors.As(err, &se) || se.Class != "none" || se.Have != 0 || se.Need != DefaultMinPerClass {
		t.Fatalf("err = %v, want a SamplesError for none: 0 of %d", err, DefaultMinPerClass)
	}
	if !strings.Contains(err.Error(), "record at least 10") {
		t.Errorf("message %q does not say what to do", err)
	}
	cfg := quickConfig(lib, shared, samples, out)
	cfg.Classes = []string{"rock", "paper", "scissors"}
	cfg.MinPerClass = 11
	if _, err := Train(context.Background(), cfg, nil); !errors.As(err, &se) || se.Have != 10 || !strings.Contains(err.Error(), "1 more") {
		t.Errorf("err = %v, want 10 of 11, 1 more", err)
	}
	cfg.MinPerClass = 0
	cfg.Out = shippedBase
	if _, err := Train(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "replace the base model") {
		t.Errorf("Out = Base: err = %v, want a refusal", err)
	}
	cfg.Out = out
	cfg.Anchor = -1
	if _, err := Train(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "e.g. 0.01") {
		t.Errorf("anchor -1: err = %v, want one naming a valid strength", err)
	}
	cfg.Anchor = math.NaN()
	if _, err := Train(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "e.g. 0.01") {
		t.Errorf("anchor NaN: err = %v, want one naming a valid strength", err)
	}
	cfg.Anchor = 0
	cfg.Params = filepath.Join(t.TempDir(), "missing.params")
	if _, err := Train(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "--params") {
		t.Errorf("missing params: err = %v, want one naming --params", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed Train wrote %s", out)
	}
}

// Ctrl-C (a cancelled context) stops a Train; nothing is written and an
// earlier taught model stays as it was.
func TestTrainCancelledWritesNothing(t *testing.T) {
	lib, shared := teachEnv(t)
	samples := userSamples(t, shared, 10, fourClasses)
	out := filepath.Join(t.TempDir(), "taught.onnx")
	if err := os.WriteFile(out, []byte("earlier model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"features", "fit", "export"} {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Train(ctx, quickConfig(lib, shared, samples, out), func(p Progress) {
			if p.Stage == stage {
				cancel()
			}
		})
		cancel()
		if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was written") {
			t.Errorf("cancelled in %s: err = %v, want context.Canceled and nothing written", stage, err)
		}
		if b, _ := os.ReadFile(out); string(b) != "earlier model" {
			t.Errorf("cancelled in %s: %s was replaced", stage, out)
		}
	}
}
