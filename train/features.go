package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"io"
	"os"
	"path/filepath"
	"sync"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/train/tail"
)

// FeatureRunner runs the backbone on batches of preprocessed images
// (infer.BatchRunner satisfies it).
type FeatureRunner interface {
	// Run takes n images of uint8 NHWC pixels and returns n*OutputDim() features.
	Run(images []uint8, n int) ([]float32, error)
	OutputDim() int
}

// Preprocessor is the live path's crop/resize/colour step
// (infer.Preprocessor satisfies it).
type Preprocessor interface {
	IntoUint8(bgr gocv.Mat, roi image.Rectangle, dst []uint8) error
	Size() int
	Close() error
}

// ImageReader decodes a file into a 3-channel BGR Mat (capture.ReadImage).
type ImageReader func(path string) (gocv.Mat, error)

// Extractor computes backbone features of training views: view 0 of every
// image is the image as the camera path sees it, views 1.. are augmented.
type Extractor struct {
	Runner  FeatureRunner
	NewPre  func() (Preprocessor, error) // one per worker goroutine
	Read    ImageReader
	Augment *Augmenter
	Batch   int
	Cache   VectorCache // nil disables caching

	AugSeed uint64
	// Half keeps the vectors as binary16 bits (FeatureSet.Half, sharing
	// the cache's copies, mapped from its file) instead of float32: the
	// fine-tuning activations, which the cache rounds to binary16 anyway,
	// in half the memory and off the Go heap. They are valid until the
	// cache is closed.
	Half         bool
	Progress     io.Writer
	Terminal     bool
	ProgressName string
}

// FeatureSet is feature vectors with their labels and origins.
type FeatureSet struct {
	X [][]float32
	// Half holds the vectors as binary16 bits, little-endian bytes,
	// instead of X (an Extractor with Half set): one of X and Half is empty.
	Half     [][]byte
	Y        []int
	Examples []Example // the example each row came from
	Views    []int     // the view index of each row
}

// Len is the number of vectors.
func (f FeatureSet) Len() int { return max(len(f.X), len(f.Half)) }

// Rows returns the vectors as tail rows, as they are held.
func (f FeatureSet) Rows() tail.Rows {
	if f.Half != nil {
		return tail.HalfRows(f.Half)
	}
	return tail.Float32Rows(f.X)
}

// Slice returns rows [from, to) of the set's vectors, labels and origins.
func (f FeatureSet) Slice(from, to int) FeatureSet {
	out := FeatureSet{Y: f.Y[from:to], Examples: f.Examples[from:to]}
	if f.Half != nil {
		out.Half = f.Half[from:to]
	} else {
		out.X = f.X[from:to]
	}
	if len(f.Views) == f.Len() {
		out.Views = f.Views[from:to]
	}
	return out
}

// Batch returns the set as a batch: every row weighs the same, or, with
// balance, each row weighs as ClassBalance over the set's own rows says
// (a set held as Half gives the weights and labels, no X).
func (f FeatureSet) Batch(balance bool) Batch {
	b := Batch{X: f.X, Y: f.Y}
	if balance {
		weight := ClassBalance(f.Examples)
		b.Weight = make([]float32, len(f.Examples))
		for i, ex := range f.Examples {
			b.Weight[i] = weight(ex)
		}
	}
	return b
}

// ClassBalance returns per-row loss weights that give every class of a
// source the same total weight, the source's own total unchanged:
// N_s / (K_s · N_s,c) for a row of class c from source s with N_s rows and
// K_s classes present. Real-photo sources lean to rock (models/README.md);
// unweighted, the loss teaches that a real photo is most likely a fist,
// which is wrong for a user who plays all three.
func ClassBalance(rows []Example) func(Example) float32 {
	type key struct {
		source string
		class  int
	}
	perClass := map[key]int{}
	perSource := map[string]int{}
	classes := map[string]int{}
	for _, ex := range rows {
		k := key{ex.Source, ex.Class}
		if perClass[k] == 0 {
			classes[ex.Source]++
		}
		perClass[k]++
		perSource[ex.Source]++
	}
	return func(ex Example) float32 {
		n := perClass[key{ex.Source, ex.Class}]
		if n == 0 {
			return 1
		}
		return float32(float64(perSource[ex.Source]) / float64(classes[ex.Source]*n))
	}
}

// VectorCache keeps per-view vectors across runs (*Cache: pooled features
// or the fine-tuning trunk's activations, in one file format).
type VectorCache interface {
	// Key identifies one view of one file; it changes when the file does.
	Key(path string, view int, augSeed uint64) (string, error)
	Get(key string) ([]float32, bool)
	// Put stores v; a cache that stores fewer bits rounds v in place, so
	// the caller goes on with the values a later Get returns.
	Put(key string, v []float32)
	Save() error
}

// halfCache is a VectorCache that hands out its binary16 copies (*Cache).
type halfCache interface {
	GetHalf(key string) ([]byte, bool)
}

// halfOf returns key's vector as binary16 bits (little-endian bytes): the
// cache's own copy where it keeps one, else a rounded copy of its vector.
func halfOf(cache VectorCache, key string) ([]byte, bool) {
	if hc, ok := cache.(halfCache); ok {
		return hc.GetHalf(key)
	}
	v, ok := cache.Get(key)
	if !ok {
		return nil, false
	}
	return nn.HalfBytesFromFloat32s(v), true
}

// noCache is the VectorCache of an Extractor without one.
type noCache struct{}

// Key only has to tell the views of one Features call apart.
func (noCache) Key(path string, view int, augSeed uint64) (string, error) {
	return fmt.Sprintf("%s|v%d|s%d", path, view, augSeed), nil
}
func (noCache) Get(string) ([]float32, bool) { return nil, false }
func (noCache) Put(string, []float32)        {}
func (noCache) Save() error                  { return nil }

// saveBytes is how many bytes of new binary16 vectors Features computes
// between two Saves of its cache.
const saveBytes = 256 << 20

type job struct {
	ex   Example
	view int
	key  string
}

// Features returns the features of views 0..views-1 of each example (view 0
// only when views is 1), from the cache where present.
func (e *Extractor) Features(examples []Example, views int) (FeatureSet, error) {
	if views < 1 {
		return FeatureSet{}, fmt.Errorf("views %d: want 1 or more (1 = no augmentation)", views)
	}
	if views > 1 && e.Augment == nil {
		return FeatureSet{}, errors.New("augmented views need an Augmenter")
	}
	dim := e.Runner.OutputDim()
	cache := e.Cache
	if cache == nil {
		cache = noCache{}
	}
	var out FeatureSet
	var todo []job
	// rows lists the output rows of each key: one, unless the same image
	// is listed twice (a folder passed as two sources).
	rows := map[string][]int{}
	for _, ex := range examples {
		for v := 0; v < views; v++ {
			key, err := cache.Key(ex.Path, v, e.AugSeed)
			if err != nil {
				return FeatureSet{}, err
			}
			row := out.Len()
			out.Y = append(out.Y, ex.Class)
			out.Examples = append(out.Examples, ex)
			out.Views = append(out.Views, v)
			if e.Half {
				out.Half = append(out.Half, nil)
				if h, ok := halfOf(cache, key); ok && len(h) == 2*dim {
					out.Half[row] = h
					continue
				}
			} else {
				out.X = append(out.X, nil)
				if vec, ok := cache.Get(key); ok && len(vec) == dim {
					out.X[row] = vec
					continue
				}
			}
			if len(rows[key]) == 0 {
				todo = append(todo, job{ex: ex, view: v, key: key})
			}
			rows[key] = append(rows[key], row)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	name := e.ProgressName
	if name == "" {
		name = "features"
	}
	prog := NewProgress(e.Progress, name, len(todo), e.Terminal)
	batch := max(e.Batch, 1)
	type prepared struct {
		jobs []job
		pix  []uint8
		err  error
	}
	ready := make(chan prepared, 2)
	var wg sync.WaitGroup
	wg.Add(1)
	stop := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(ready)
		pre, err := e.NewPre()
		if err != nil {
			ready <- prepared{err: err}
			return
		}
		defer pre.Close()
		var last lastImage
		defer last.close()
		size := pre.Size()
		for start := 0; start < len(todo); start += batch {
			js := todo[start:min(start+batch, len(todo))]
			p := prepared{jobs: js, pix: make([]uint8, len(js)*size)}
			for i, j := range js {
				if p.err = e.view(pre, &last, j, p.pix[i*size:(i+1)*size]); p.err != nil {
					break
				}
			}
			select {
			case ready <- p:
			case <-stop:
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	// With Half, save every saveBytes of new vectors: the rows, which point
	// at the cache's heap copies until a Save maps them from its file, are
	// then pointed at the file, so that a first run's heap does not grow
	// with the whole cache (and what was computed is on disk should the
	// run be stopped). float32 rows are the caller's own: one Save at the
	// end.
	var unsaved []job
	saveEvery := max(1, saveBytes/(2*dim))
	save := func() error {
		if err := cache.Save(); err != nil {
			return err
		}
		for _, j := range unsaved {
			if h, ok := halfOf(cache, j.key); ok && len(h) == 2*dim {
				for _, row := range rows[j.key] {
					out.Half[row] = h
				}
			}
		}
		unsaved = unsaved[:0]
		return nil
	}
	done := 0
	prog.Update(0)
	for p := range ready {
		if p.err != nil {
			return FeatureSet{}, p.err
		}
		feats, err := e.Runner.Run(p.pix, len(p.jobs))
		if err != nil {
			return FeatureSet{}, fmt.Errorf("backbone: %w", err)
		}
		for i, j := range p.jobs {
			vec := feats[i*dim : (i+1)*dim : (i+1)*dim]
			cache.Put(j.key, vec) // rounds vec to what the cache keeps
			if !e.Half {
				for _, row := range rows[j.key] {
					out.X[row] = vec
				}
				continue
			}
			h, ok := halfOf(cache, j.key)
			if !ok || len(h) != 2*dim { // no cache
				h = nn.HalfBytesFromFloat32s(vec)
			}
			for _, row := range rows[j.key] {
				out.Half[row] = h
			}
			unsaved = append(unsaved, j)
		}
		done += len(p.jobs)
		prog.Update(done)
		if len(unsaved) >= saveEvery {
			if err := save(); err != nil {
				return FeatureSet{}, err
			}
		}
	}
	if err := save(); err != nil {
		return FeatureSet{}, err
	}
	return out, nil
}

// view decodes, augments (view > 0) and preprocesses one job into dst.
func (e *Extractor) view(pre Preprocessor, last *lastImage, j job, dst []uint8) error {
	img, err := last.read(e.Read, j.ex.Path)
	if err != nil {
		return err
	}
	if j.view == 0 {
		return pre.IntoUint8(img, image.Rectangle{}, dst)
	}
	aug, err := e.Augment.Apply(img, j.ex.BG, newRand(e.AugSeed, pathHash(j.ex.Path), uint64(j.view)))
	if err != nil {
		return fmt.Errorf("%s: %w", j.ex.Path, err)
	}
	defer aug.Close()
	return pre.IntoUint8(aug, image.Rectangle{}, dst)
}

// lastImage keeps the image read last: an image's views are consecutive
// jobs, so it is decoded once rather than once per view. Neither the
// augmenter nor the preprocessor writes to the image they are given.
type lastImage struct {
	path string
	img  gocv.Mat
	ok   bool
}

func (l *lastImage) read(read func(string) (gocv.Mat, error), path string) (gocv.Mat, error) {
	if l.ok && l.path == path {
		return l.img, nil
	}
	l.close()
	img, err := read(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	l.path, l.img, l.ok = path, img, true
	return img, nil
}

func (l *lastImage) close() {
	if l.ok {
		l.img.Close()
		l.ok = false
	}
}

// imageName is "class/file.jpg": what names an image independently of where
// the data set is mounted. It seeds the image's augmented views (pathHash)
// and is part of its cache key (contentKeys), so the two always agree.
func imageName(path string) string {
	return filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
}

// pathHash identifies a file by its base name and class folder, so a view's
// randomness does not depend on where the data set is mounted.
func pathHash(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(imageName(path)))
	return h.Sum64()
}

// cacheID names a cache file by the model that computes its vectors (its
// sha256), the preprocessing version (the cached values are a function of
// the pixels the live path makes) and the augmentation recipe.
func cacheID(modelSHA256 string, aug AugmentConfig) string {
	recipe, _ := json.Marshal(aug)
	sum := sha256.Sum256(append([]byte(fmt.Sprintf("%s\x00preprocess v%d\x00", modelSHA256, infer.PreprocessVersion)), recipe...))
	return hex.EncodeToString(sum[:8])
}

// contentKeys names a view of an image by what determines its pixels: the
// file's contents (sha256), its class folder and base name (which seed its
// augmentation, see pathHash), the view and the augmentation seed. Copying
// or re-mounting the data (other paths, new modification times) keeps a
// cache valid; changing an image's bytes does not. Digests are memoised by
// path, size and modification time, so a file is read once per run rather
// than once per view.
type contentKeys struct {
	mu   sync.Mutex
	memo map[string]string
}

func (k *contentKeys) key(path string, view int, augSeed uint64) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", path, err)
	}
	stamp := fmt.Sprintf("%s|%d|%d", path, st.Size(), st.ModTime().UnixNano())
	k.mu.Lock()
	digest, ok := k.memo[stamp]
	k.mu.Unlock()
	if !ok {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("image %s: %w", path, err)
		}
		sum := sha256.Sum256(data)
		digest = hex.EncodeToString(sum[:12])
		k.mu.Lock()
		if k.memo == nil {
			k.memo = map[string]string{}
		}
		k.memo[stamp] = digest
		k.mu.Unlock()
	}
	return fmt.Sprintf("%s|%s|v%d|s%d", imageName(path), digest, view, augSeed), nil
}

// Repeat returns the set with every row of source s listed times[s] times
// (once for sources not in times), in the original order with the copies
// next to each other; the vectors are shared, not copied. Training on it
// weights those sources times[s]-fold, e.g. the real-photo source most like
// the live camera.
func (f FeatureSet) Repeat(times map[string]int) FeatureSet {
	var out FeatureSet
	for i, ex := range f.Examples {
		n := max(times[ex.Source], 1)
		for range n {
			if f.Half != nil {
				out.Half = append(out.Half, f.Half[i])
			} else {
				out.X = append(out.X, f.X[i])
			}
			out.Y = append(out.Y, f.Y[i])
			out.Examples = append(out.Examples, ex)
			if len(f.Views) == f.Len() {
				out.Views = append(out.Views, f.Views[i])
			}
		}
	}
	return out
}
