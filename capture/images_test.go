package capture_test

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestListImagesClassFolders(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"train/rock/b.jpg", "train/rock/a.JPEG", "train/paper/p1.png", "train/scissors/s.webp",
		"train/scissors/notes.txt", "train/scissors/.hidden.jpg", "train/README.md",
		"test/rock/r.BMP", ".cache/x.jpg", "loose.jpg", "mixed/top.png", "mixed/sub/inner.jpg",
	} {
		touch(t, filepath.Join(root, p))
	}
	got, err := capture.ListImages(root)
	if err != nil {
		t.Fatal(err)
	}
	j := func(p string) string { return filepath.Join(root, p) }
	want := []capture.LabeledImage{
		{Path: j("loose.jpg"), Class: ""},           // directly in the given folder
		{Path: j("mixed/sub/inner.jpg"), Class: ""}, // parent "mixed" holds images itself: not a class tree
		{Path: j("mixed/top.png"), Class: ""},       // the given folder holds loose.jpg: its subfolders are not classes
		{Path: j("test/rock/r.BMP"), Class: "rock"},
		{Path: j("train/paper/p1.png"), Class: "paper"},
		{Path: j("train/rock/a.JPEG"), Class: "rock"},
		{Path: j("train/rock/b.jpg"), Class: "rock"},
		{Path: j("train/scissors/s.webp"), Class: "scissors"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListImages:\n got %v\nwant %v", got, want)
	}

	// Given the split folder itself, its subfolders are the classes.
	got, err = capture.ListImages(j("train"))
	if err != nil || len(got) != 4 || got[0].Class != "paper" || got[3].Class != "scissors" {
		t.Errorf("ListImages(train) = %v, %v", got, err)
	}
	// Given a class folder, its images are unlabelled.
	got, err = capture.ListImages(j("train/rock"))
	if err != nil || len(got) != 2 || got[0].Class != "" {
		t.Errorf("ListImages(train/rock) = %v, %v; want 2 unlabelled", got, err)
	}
	// Files one by one, listed twice, come back once, sorted, unlabelled.
	got, err = capture.ListImages(j("train/rock/b.jpg"), j("loose.jpg"), j("train/rock/b.jpg"))
	if err != nil || !reflect.DeepEqual(got, []capture.LabeledImage{{Path: j("loose.jpg")}, {Path: j("train/rock/b.jpg")}}) {
		t.Errorf("ListImages(files) = %v, %v", got, err)
	}
}

func TestListImagesErrors(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(root, "docs", "a.txt"))
	touch(t, filepath.Join(root, "notes.txt"))
	for _, tt := range []struct {
		paths []string
		want  string
	}{
		{nil, "at least one"},
		{[]string{empty}, empty},
		{[]string{filepath.Join(root, "docs")}, "holds no images"},
		{[]string{filepath.Join(root, "nope")}, "does not exist"},
		{[]string{filepath.Join(root, "notes.txt")}, "is not an image"},
	} {
		_, err := capture.ListImages(tt.paths...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ListImages(%v) error %v, want one containing %q", tt.paths, err, tt.want)
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReadImage(t *testing.T) {
	dir := t.TempDir()
	rgba := image.NewNRGBA(image.Rect(0, 0, 6, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 6; x++ {
			rgba.Set(x, y, color.NRGBA{R: 200, G: 100, B: 30, A: 255})
		}
	}
	rgbaPath := filepath.Join(dir, "rgba.png")
	writePNG(t, rgbaPath, rgba)
	grey := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range grey.Pix {
		grey.Pix[i] = 77
	}
	greyPath := filepath.Join(dir, "grey.png")
	writePNG(t, greyPath, grey)

	for _, tt := range []struct {
		path    string
		w, h    int
		b, g, r uint8
	}{
		{rgbaPath, 6, 4, 30, 100, 200}, // alpha dropped, RGB swapped to BGR
		{greyPath, 5, 3, 77, 77, 77},   // grey expanded
	} {
		m, err := capture.ReadImage(tt.path)
		if err != nil {
			t.Fatalf("ReadImage(%s): %v", filepath.Base(tt.path), err)
		}
		if m.Type() != gocv.MatTypeCV8UC3 || m.Cols() != tt.w || m.Rows() != tt.h {
			t.Errorf("%s: %dx%d type %v, want %dx%d 8UC3", filepath.Base(tt.path), m.Cols(), m.Rows(), m.Type(), tt.w, tt.h)
		}
		if v := m.GetVecbAt(1, 1); v[0] != tt.b || v[1] != tt.g || v[2] != tt.r {
			t.Errorf("%s: pixel %v, want BGR %d,%d,%d", filepath.Base(tt.path), v, tt.b, tt.g, tt.r)
		}
		m.Close()
	}

	corrupt := filepath.Join(dir, "corrupt.jpg")
	if err := os.WriteFile(corrupt, []byte("\xff\xd8\xff\xe0 definitely not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		corrupt:                        "cannot decode image",
		filepath.Join(dir, "none.png"): "does not exist",
		dir:                            "is a folder",
	} {
		if _, err := capture.ReadImage(path); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("ReadImage(%s) error %v, want one naming the path and containing %q", path, err, want)
		}
	}
}
