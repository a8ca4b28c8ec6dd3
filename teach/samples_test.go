package teach

import (
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

var fourClasses = []string{"rock", "paper", "scissors", "none"}

func solid(t *testing.T, w, h int, c color.RGBA) gocv.Mat {
	t.Helper()
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	m.SetTo(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0))
	return m
}

func TestSamplesNumbersInCaptureOrderAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSamples(dir, fourClasses)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fourClasses {
		if fi, err := os.Stat(filepath.Join(dir, c)); err != nil || !fi.IsDir() {
			t.Fatalf("class folder %s not made: %v", c, err)
		}
	}
	m := solid(t, 4, 4, color.RGBA{R: 200})
	defer m.Close()
	p1, err := s.Add("paper", m)
	if err != nil {
		t.Fatal(err)
	}
	// Another process takes the next name meanwhile: Add moves on.
	taken := filepath.Join(dir, "paper", "000002.png")
	if err := os.WriteFile(taken, []byte("not mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	p3, err := s.Add("paper", m)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p1) != "000001.png" || filepath.Base(p3) != "000003.png" {
		t.Errorf("paths %s, %s: want 000001.png, 000003.png", p1, p3)
	}
	if b, _ := os.ReadFile(taken); string(b) != "not mine" {
		t.Error("a file that was already there was overwritten")
	}
	if got := s.Counts()["paper"]; got != 2 {
		t.Errorf("Counts[paper] = %d, want 2 (the foreign file was made after opening)", got)
	}
	// Reopening continues after the highest number and counts every image.
	s2, err := OpenSamples(dir, fourClasses)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Counts()["paper"]; got != 3 {
		t.Errorf("reopened Counts[paper] = %d, want 3", got)
	}
	p4, err := s2.Add("paper", m)
	if err != nil || filepath.Base(p4) != "000004.png" {
		t.Errorf("after reopening Add = %s, %v; want 000004.png", p4, err)
	}
	recent, err := s2.Recent("paper", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 2 || filepath.Base(recent[0]) != "000004.png" || filepath.Base(recent[1]) != "000003.png" {
		t.Errorf("Recent = %v, want 000004.png then 000003.png", recent)
	}
}

func TestSamplesSortsForeignNamesAsNumbers(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"10.jpg", "9.jpg", "frame100.jpg", "frame20.jpg", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := listImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"9.jpg", "10.jpg", "frame20.jpg", "frame100.jpg"}
	if !slices.Equal(got, want) {
		t.Errorf("listImages = %v, want %v", got, want)
	}
}

func TestSamplesRefusesBadNames(t *testing.T) {
	for _, classes := range [][]string{{"rock", "../etc"}, {"rock", ""}, {"rock", "rock"}, {"a/b"}, nil} {
		if _, err := OpenSamples(t.TempDir(), classes); err == nil {
			t.Errorf("OpenSamples(%q) succeeded, want an error", classes)
		}
	}
	if _, err := OpenSamples("", fourClasses); err == nil || !strings.Contains(err.Error(), "--samples") {
		t.Errorf("no folder: err = %v, want one naming --samples", err)
	}
	s, err := OpenSamples(t.TempDir(), fourClasses)
	if err != nil {
		t.Fatal(err)
	}
	m := solid(t, 4, 4, color.RGBA{G: 10})
	defer m.Close()
	if _, err := s.Add("lizard", m); err == nil || !strings.Contains(err.Error(), "lizard") {
		t.Errorf("unknown class: err = %v, want one naming it", err)
	}
	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := s.Add("rock", empty); err == nil {
		t.Error("an empty image was saved")
	}
}

func TestSamplesFolderThatIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "samples")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSamples(file, fourClasses)
	if err == nil || !strings.Contains(err.Error(), "not a directory") || !strings.Contains(err.Error(), "choose a folder") {
		t.Errorf("err = %v, want not a directory and the fix", err)
	}
}
