package model

import (
	"bufio"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpscam/rpscam/internal/nn"
)

// loadImage224 decodes an image and resizes it bilinearly to 224x224 RGB bytes.
func loadImage224(t *testing.T, path string) []uint8 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("test image missing: %v", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	bounds := img.Bounds()
	w, h := bounds.Dx(), bounds.Dy()
	px := make([]uint8, InputSize*InputSize*3)
	at := func(x, y int) [3]float64 {
		r, g, b, _ := img.At(bounds.Min.X+x, bounds.Min.Y+y).RGBA()
		return [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
	}
	for oy := 0; oy < InputSize; oy++ {
		sy := max((float64(oy)+0.5)*float64(h)/InputSize-0.5, 0)
		y0 := min(int(sy), h-1)
		y1, fy := min(y0+1, h-1), sy-float64(int(sy))
		for ox := 0; ox < InputSize; ox++ {
			sx := max((float64(ox)+0.5)*float64(w)/InputSize-0.5, 0)
			x0 := min(int(sx), w-1)
			x1, fx := min(x0+1, w-1), sx-float64(int(sx))
			a, b, c, d := at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1)
			for ch := 0; ch < 3; ch++ {
				v := (a[ch]*(1-fx)+b[ch]*fx)*(1-fy) + (c[ch]*(1-fx)+d[ch]*fx)*fy
				px[(oy*InputSize+ox)*3+ch] = uint8(min(max(v+0.5, 0), 255))
			}
		}
	}
	return px
}

func readLabels(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("ImageNet labels missing: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestImageNetHeadTop1 attaches the file's ImageNet classifier and checks
// that ONNX Runtime and the Go reference pick the same class, with the same
// probabilities to 1e-4, on photos from ../shared.
func TestImageNetHeadTop1(t *testing.T) {
	initORT(t)
	dir := sharedDir(t)
	images := []string{
		"data/rps-cgi/validation/rock/rock1.png",
		"data/rps-cgi/validation/paper/paper1.png",
		"data/rps-cgi/validation/scissors/scissors1.png",
		"data/rps-real/drgfreeman/rock/" + firstFile(t, filepath.Join(dir, "data/rps-real/drgfreeman/rock")),
		"data/rps-real/drgfreeman/paper/" + firstFile(t, filepath.Join(dir, "data/rps-real/drgfreeman/paper")),
	}
	var pixels []uint8
	for _, p := range images {
		pixels = append(pixels, loadImage224(t, filepath.Join(dir, p))...)
	}
	n := len(images)
	labels := readLabels(t, filepath.Join(dir, "models", "mobilenet_v2", "imagenet_labels.txt"))
	top := map[string][]int{}
	for _, w := range KnownWeights() {
		b := loadBackbone(t, w)
		head, err := b.ImageNetParams(labels)
		if err != nil {
			t.Fatal(err)
		}
		if head.Labels[1] != "tench" {
			t.Fatalf("label 1 = %q, want the short name tench", head.Labels[1])
		}
		m, err := BuildONNX(b, head, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := newSession(t, data, []string{probabilitiesName}, 0).run(t, pixels, n)
		x, _ := normalize(pixels, n, InputSize, InputSize)
		feat, err := b.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		logits, _ := nn.Dense(feat, head.HeadW, head.HeadB, 1001)
		ref, _ := nn.Softmax(logits)
		if diff, _ := maxAbsDiff(out[0], ref.Data); diff > 1e-4 {
			t.Errorf("%s: probabilities differ by %g", w.Name, diff)
		}
		for i := 0; i < n; i++ {
			got, want := nn.Argmax(out[0][i*1001:][:1001]), nn.Argmax(ref.Data[i*1001:][:1001])
			if got != want {
				t.Errorf("%s %s: ORT top-1 %s, reference %s", w.Name, images[i], labels[got], labels[want])
			}
			top[w.Name] = append(top[w.Name], got)
			t.Logf("%s %-50s top-1 %-28q p=%.3f", w.Name, images[i], labels[got], out[0][i*1001+got])
		}
	}
	agree := 0
	for i := range images {
		if top["tf2"][i] == top["slim"][i] {
			agree++
		}
	}
	t.Logf("tf2 and slim agree on top-1 for %d of %d images", agree, n)
}

func firstFile(t *testing.T, dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Skipf("no images in %s", dir)
	}
	return entries[0].Name()
}
