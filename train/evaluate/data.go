package evaluate

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/train"
)

// DataError is a folder of images that cannot be scored as laid out (loose
// images, an unknown class folder, no sources) or Options that cannot be
// followed: the user's to fix.
type DataError struct{ Err error }

func (e *DataError) Error() string { return e.Err.Error() }
func (e *DataError) Unwrap() error { return e.Err }

func dataErrorf(format string, a ...any) error { return &DataError{fmt.Errorf(format, a...)} }

// UnreadableError is an image file that cannot be read or decoded: rpscam
// eval skips and counts such files, as rpscam classify does, rather than
// losing the whole report to one bad file.
type UnreadableError struct{ Err error }

func (e *UnreadableError) Error() string { return e.Err.Error() }
func (e *UnreadableError) Unwrap() error { return e.Err }

// Skipped is an image that was not scored, and why, for the report.
type Skipped struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Source is one row of the per-source table: a folder of class folders.
type Source struct {
	Name, Dir string
}

// Image is one image to score, with its class folder's name, for the
// validation split its training source, and in a per-source table its row.
type Image struct {
	Path, Class, Source, Group string
}

// tag turns listed images into Images of per-source row group, keeping
// those keep accepts (nil keeps all).
func tag(list []capture.LabeledImage, group string, keep func(path string) bool) []Image {
	var out []Image
	for _, im := range list {
		if keep == nil || keep(im.Path) {
			out = append(out, Image{Path: im.Path, Class: im.Class, Group: group})
		}
	}
	return out
}

// heldOutRule says which files of dir rpscam train never trains on: dir
// must be one of the default hold-out sources under shared (drgfreeman's
// hashed 20% of files, parikshitkumar1's last frames, signdigits' hashed
// 20% of students). Any other folder is refused: it has no held-out part,
// and a file-name hash there would only pick an arbitrary fifth of it.
func heldOutRule(shared, dir string) (func(string) bool, error) {
	exs, ok, err := train.HeldOutPart(shared, dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		var names, dirs []string
		for _, s := range train.DefaultSources(shared) {
			if s.HoldOut != train.NoHoldOut {
				names, dirs = append(names, s.Name), append(dirs, s.Dir)
			}
		}
		return nil, dataErrorf("--heldout applies to the hold-out sources %s only, and %s is not one of them: pass --data %s (the source folder itself), or drop --heldout to score the whole folder",
			strings.Join(names, ", "), dir, strings.Join(dirs, " or --data "))
	}
	held := map[string]bool{}
	for _, ex := range exs {
		abs, _ := filepath.Abs(ex.Path)
		held[abs] = true
	}
	return func(path string) bool {
		abs, _ := filepath.Abs(path)
		return held[abs]
	}, nil
}

// sourceImages lists one source's images, all of which must be in class
// folders: an image directly in the source folder has no truth to score.
func sourceImages(s Source) ([]capture.LabeledImage, error) {
	list, err := capture.ListImages(s.Dir)
	if err != nil {
		return nil, dataErrorf("source %s: %v", s.Name, err)
	}
	for _, im := range list {
		if im.Class == "" {
			return nil, dataErrorf("source %s (%s) holds images outside class folders, e.g. %s: put them in %s/ subfolders, or pass the folder above the sources to --sources-in",
				s.Name, s.Dir, im.Path, strings.Join(train.Labels[:], "/ "))
		}
	}
	return list, nil
}

// listSources turns every subfolder of each parent (--sources-in), then
// each of dirs (--data), into a named source.
func listSources(parents, dirs []string) ([]Source, error) {
	var out []Source
	for _, parent := range parents {
		subs, err := subfolders(parent)
		if err != nil {
			return nil, err
		}
		out = append(out, subs...)
	}
	for _, d := range dirs {
		out = append(out, Source{Name: sourceName(d), Dir: d})
	}
	return uniqueNames(out), nil
}

// subfolders are parent's non-hidden folders as sources, sorted by name.
func subfolders(parent string) ([]Source, error) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil, dataErrorf("--sources-in %s: %v (pass the folder whose subfolders are the sources, e.g. ../shared/data/eval-only)", parent, err)
	}
	var out []Source
	var classes []string
	for _, e := range entries {
		dir := filepath.Join(parent, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue // SOURCES.tsv and other files beside the sources
		}
		if isClassFolder(e.Name()) {
			classes = append(classes, e.Name())
		}
		out = append(out, Source{Name: e.Name(), Dir: dir})
	}
	if len(classes) > 0 {
		return nil, dataErrorf("--sources-in %s: its subfolders are class folders (%s), so it is one source: pass it as --per-source --data %s, or pass the folder above it to --sources-in",
			parent, strings.Join(classes, ", "), parent)
	}
	if len(out) == 0 {
		return nil, dataErrorf("--sources-in %s has no subfolders: pass the folder whose subfolders are the sources (each holding rock/ paper/ scissors/ none/), e.g. ../shared/data/eval-only", parent)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func isClassFolder(name string) bool {
	for _, c := range train.Labels {
		if name == c {
			return true
		}
	}
	return false
}

// splitFolders are names that say which part of a source a folder is, not
// whose it is: such a folder is named with its parent (subhih/test).
var splitFolders = map[string]bool{"test": true, "train": true, "val": true, "valid": true, "validation": true}

func sourceName(dir string) string {
	clean := filepath.Clean(dir)
	base := filepath.Base(clean)
	if splitFolders[strings.ToLower(base)] {
		return filepath.Base(filepath.Dir(clean)) + "/" + base
	}
	return base
}

// uniqueNames names sources that share a name by their paths instead, so
// no two rows look alike.
func uniqueNames(srcs []Source) []Source {
	count := map[string]int{}
	for _, s := range srcs {
		count[s.Name]++
	}
	for i, s := range srcs {
		if count[s.Name] > 1 {
			srcs[i].Name = filepath.Clean(s.Dir)
		}
	}
	return srcs
}

// TestImages lists the test part of every default training source under
// shared, each a row of the per-source table; dirs are their folders.
func TestImages(shared string) (imgs []Image, dirs []string, sources []Source, err error) {
	for _, t := range train.DefaultTestSets(shared) {
		exs, err := t.Examples()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("test set %s: %w", t.Name, err)
		}
		sources = append(sources, Source{Name: t.Name, Dir: t.Src.Dir})
		dirs = append(dirs, t.Src.Dir)
		for _, ex := range exs {
			imgs = append(imgs, Image{Path: ex.Path, Class: train.Labels[ex.Class], Group: t.Name})
		}
	}
	return imgs, dirs, sources, nil
}

// ValidationImages lists the validation split of rpscam train's default
// sources under shared with the same code and seed that train splits them
// with; dirs are the sources' folders.
func ValidationImages(shared string, splitSeed uint64, valFrac float64) (imgs []Image, dirs []string, err error) {
	cfg := train.DefaultConfig(train.DefaultSources(shared))
	cfg.SplitSeed, cfg.ValFraction = splitSeed, valFrac
	sp, err := train.SplitSources(cfg, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range cfg.Sources {
		dirs = append(dirs, s.Dir)
	}
	imgs = make([]Image, len(sp.Validation))
	for i, ex := range sp.Validation {
		imgs[i] = Image{Path: ex.Path, Class: train.Labels[ex.Class], Source: ex.Source}
	}
	return imgs, dirs, nil
}

// Item is one image with its model class index (or noneImage) and
// per-source row.
type Item struct {
	Path, Source, Group string
	Class               int
}

// LabelImages maps class folder names to the model's outputs. A none/
// folder under a model without a none class is still scored, by
// uncertainty only, so old models can be measured on new data.
func LabelImages(imgs []Image, labels []string) ([]Item, error) {
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	if _, ok := index[infer.NoHandLabel]; !ok {
		index[infer.NoHandLabel] = noneImage
	}
	items := make([]Item, 0, len(imgs))
	for _, im := range imgs {
		c, ok := index[im.Class]
		if !ok {
			return nil, dataErrorf("%s is in folder %q, which is not one of the model's classes (%s): put images in class folders", im.Path, im.Class, strings.Join(labels, ", "))
		}
		items = append(items, Item{Path: im.Path, Source: im.Source, Group: im.Group, Class: c})
	}
	return items, nil
}

// predict runs the model on every item in batches through the live path's
// preprocessing (the same code as infer.Classifier), calling progress with
// the number done after each batch. Images that cannot be read are left
// out and listed in skipped; scored are the other items, one per
// prediction, in order.
func predict(runner *infer.BatchRunner, items []Item, batch int, progress func(done int)) (preds []Prediction, scored []Item, skipped []Skipped, err error) {
	pre, err := infer.NewPreprocessor(runner.Contract())
	if err != nil {
		return nil, nil, nil, err
	}
	defer pre.Close()
	size := pre.Size()
	preds = make([]Prediction, 0, len(items))
	scored = make([]Item, 0, len(items))
	buf := make([]uint8, batch*size)
	k := runner.OutputDim()
	for start := 0; start < len(items); start += batch {
		part := items[start:min(start+batch, len(items))]
		var read []Item // this batch's readable items, in buf's order
		for _, it := range part {
			n := len(read)
			err := PreprocessFile(pre, it.Path, buf[n*size:(n+1)*size])
			if ue := (*UnreadableError)(nil); errors.As(err, &ue) {
				skipped = append(skipped, Skipped{Path: it.Path, Error: err.Error()})
				continue
			}
			if err != nil {
				return nil, nil, nil, err
			}
			read = append(read, it)
		}
		if len(read) > 0 {
			probs, err := runner.Run(buf[:len(read)*size], len(read))
			if err != nil {
				return nil, nil, nil, err
			}
			for i, it := range read {
				preds = append(preds, Prediction{Path: it.Path, Source: it.Source, Actual: it.Class, Probs: probs[i*k : (i+1)*k]})
			}
			scored = append(scored, read...)
		}
		progress(start + len(part))
	}
	return preds, scored, skipped, nil
}

// PreprocessFile writes the model input eval scores an image file by into
// dst (pre.Size() bytes): the file decoded as classify decodes it, its
// centred crop through the live path's preprocessing. quantize calibrates
// and compares on the same pixels, so that its figures are eval's.
//
// A file that cannot be read or decoded is an *UnreadableError.
func PreprocessFile(pre *infer.Preprocessor, path string, dst []uint8) error {
	img, err := capture.ReadImage(path)
	if err != nil {
		return &UnreadableError{err}
	}
	defer img.Close()
	if err := pre.IntoUint8(img, image.Rectangle{}, dst); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// groupBySource splits preds (one per item, in order) into one
// SourcePredictions per source, by the items' Group.
func groupBySource(sources []Source, items []Item, preds []Prediction) []SourcePredictions {
	groups := make([]SourcePredictions, len(sources))
	row := map[string]int{}
	for i, s := range sources {
		groups[i] = SourcePredictions{Name: s.Name, Data: s.Dir}
		row[s.Name] = i
	}
	for i, it := range items {
		g := &groups[row[it.Group]]
		g.Preds = append(g.Preds, preds[i])
	}
	return groups
}

// scoredOnly drops none images that a model without a none class cannot
// be right or wrong on, leaving what the confusion matrix counts.
func scoredOnly(preds []Prediction) []Prediction {
	out := make([]Prediction, 0, len(preds))
	for _, p := range preds {
		if p.Actual != noneImage {
			out = append(out, p)
		}
	}
	return out
}

// sampleSpread picks n predictions spread evenly over the list, so sample
// lines show every class rather than the first folder's files.
func sampleSpread(preds []Prediction, n int) []Prediction {
	if n >= len(preds) {
		return preds
	}
	out := make([]Prediction, n)
	for i := range out {
		out[i] = preds[i*len(preds)/n]
	}
	return out
}
