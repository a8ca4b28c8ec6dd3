package capture

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gocv.io/x/gocv"
)

// LabeledImage is an image file and the class its folder names ("" if none).
type LabeledImage struct {
	Path  string `json:"path"`
	Class string `json:"class"`
}

// imageExts are the still-image formats OpenCV decodes here.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".webp": true}

// IsImagePath reports whether path has an image extension ListImages accepts.
func IsImagePath(path string) bool {
	return imageExts[strings.ToLower(filepath.Ext(path))]
}

// NoImagesError is ListImages' error for a folder that holds no images, so
// that a caller listing several folders can skip an empty one.
type NoImagesError struct{ Dir string }

func (e *NoImagesError) Error() string {
	return fmt.Sprintf("capture: folder %q holds no images (searched recursively for .jpg .jpeg .png .bmp .webp)", e.Dir)
}

// ListImages expands files and folders into image files, sorted by path.
// Folders are searched recursively, skipping hidden entries (".DS_Store",
// "._x.jpg" resource forks). An image inside a class folder gets the folder's
// name as its Class: a class folder is a folder below the one given whose
// parent holds folders and no images of its own, so both DIR/rock/a.jpg and
// DIR/train/rock/a.jpg given DIR are class "rock", while images directly in
// DIR, or files named one by one, get "". A folder with no images is an
// error naming it, as is a path that does not exist.
func ListImages(paths ...string) ([]LabeledImage, error) {
	if len(paths) == 0 {
		return nil, errors.New("capture: ListImages needs at least one image file or folder")
	}
	seen := map[string]bool{}
	var out []LabeledImage
	add := func(img LabeledImage) {
		key := filepath.Clean(img.Path)
		if !seen[key] {
			seen[key] = true
			out = append(out, img)
		}
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("capture: image path %q does not exist", root)
			}
			return nil, fmt.Errorf("capture: image path %q: %w", root, err)
		}
		if !st.IsDir() {
			if !IsImagePath(root) {
				return nil, fmt.Errorf("capture: %q is not an image (accepted extensions: .jpg .jpeg .png .bmp .webp)", root)
			}
			add(LabeledImage{Path: root})
			continue
		}
		imgs, err := listFolder(root)
		if err != nil {
			return nil, err
		}
		if len(imgs) == 0 {
			return nil, &NoImagesError{Dir: root}
		}
		for _, img := range imgs {
			add(img)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func listFolder(root string) ([]LabeledImage, error) {
	// hasImages caches, per folder, whether it directly holds images: that
	// decides whether its subfolders are class folders.
	hasImages := map[string]bool{}
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("capture: listing images under %q: %w", root, err)
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !IsImagePath(path) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		files = append(files, path)
		hasImages[filepath.Dir(path)] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]LabeledImage, 0, len(files))
	cleanRoot := filepath.Clean(root)
	for _, f := range files {
		dir := filepath.Dir(f)
		img := LabeledImage{Path: f}
		if filepath.Clean(dir) != cleanRoot && !hasImages[filepath.Dir(dir)] {
			img.Class = filepath.Base(dir)
		}
		out = append(out, img)
	}
	return out, nil
}

// ReadImage decodes an image file into a 3-channel 8-bit BGR Mat, dropping
// alpha and expanding grey. The caller closes the Mat.
func ReadImage(path string) (gocv.Mat, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return gocv.Mat{}, fmt.Errorf("capture: image %q does not exist", path)
		}
		return gocv.Mat{}, fmt.Errorf("capture: image %q: %w", path, err)
	}
	if st.IsDir() {
		return gocv.Mat{}, fmt.Errorf("capture: %q is a folder, not an image (use ListImages to expand folders)", path)
	}
	// IMReadColor always yields 8-bit BGR: OpenCV drops alpha, expands grey
	// and scales 16-bit PNGs down.
	m := gocv.IMRead(path, gocv.IMReadColor)
	if m.Empty() {
		_ = m.Close()
		return gocv.Mat{}, fmt.Errorf("capture: cannot decode image %q: corrupt, truncated, or not a .jpg/.png/.bmp/.webp image", path)
	}
	if m.Type() != gocv.MatTypeCV8UC3 {
		t := m.Type()
		_ = m.Close()
		return gocv.Mat{}, fmt.Errorf("capture: image %q decoded to unexpected Mat type %v, want 8-bit BGR", path, t)
	}
	return m, nil
}
