package teach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
)

// Samples is a class-folder store (DIR/rock/…, DIR/paper/…, DIR/scissors/…,
// DIR/none/…) in the layout that `rpscam train --source NAME=DIR` and
// `rpscam eval --data DIR` read. Files are numbered in capture order
// (000001.png, 000002.png, …), so sorting by name is sorting by time;
// existing files are kept and never overwritten. Safe for concurrent use.
type Samples struct {
	dir     string
	classes []string
	mu      sync.Mutex
	next    map[string]int // the next file number per class
	counts  map[string]int
}

// sampleExt is the format samples are saved in: lossless, so a held-out
// sample scores exactly as the camera frame it was cut from.
const sampleExt = ".png"

// OpenSamples opens (creating it and its class folders if need be) the
// samples store at dir for the given classes.
func OpenSamples(dir string, classes []string) (*Samples, error) {
	if dir == "" {
		return nil, errors.New("teach: no samples folder given: pass one, e.g. --samples samples/")
	}
	if err := checkClasses(classes); err != nil {
		return nil, err
	}
	s := &Samples{dir: dir, classes: append([]string(nil), classes...), next: map[string]int{}, counts: map[string]int{}}
	for _, c := range classes {
		cd := filepath.Join(dir, c)
		if err := os.MkdirAll(cd, 0o755); err != nil {
			return nil, fmt.Errorf("teach: samples folder %s: %w (choose a folder you can write to)", dir, unwrapPath(err))
		}
		names, err := listImages(cd)
		if err != nil {
			return nil, fmt.Errorf("teach: samples folder %s: %w (check it is a readable folder)", dir, unwrapPath(err))
		}
		s.counts[c] = len(names)
		s.next[c] = 1
		for _, n := range names {
			if k, err := strconv.Atoi(strings.TrimSuffix(n, filepath.Ext(n))); err == nil && k >= s.next[c] {
				s.next[c] = k + 1
			}
		}
	}
	return s, nil
}

// checkClasses accepts class names that are safe as folder names.
func checkClasses(classes []string) error {
	if len(classes) < 2 {
		return fmt.Errorf("teach: %d classes %q: a classifier needs at least 2 (e.g. rock,paper,scissors,none)", len(classes), classes)
	}
	seen := map[string]bool{}
	for _, c := range classes {
		if !validClass(c) {
			return fmt.Errorf("teach: class %q: use 1-32 letters, digits, '-' or '_' (it names a folder and a label)", c)
		}
		if seen[c] {
			return fmt.Errorf("teach: class %q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

func validClass(c string) bool {
	if c == "" || len(c) > 32 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// unwrapPath drops the *PathError's op so messages read "… : permission denied".
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// listImages lists the image files in dir, sorted by name (capture order).
func listImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && capture.IsImagePath(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	return names, nil
}

// naturalLess orders names with their digit runs compared as numbers
// ("9.jpg" before "10.jpg"), so frames saved by other tools without leading
// zeros still sort in capture order.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// Dir is the samples folder.
func (s *Samples) Dir() string { return s.dir }

// Classes are the classes the store was opened for.
func (s *Samples) Classes() []string { return append([]string(nil), s.classes...) }

func (s *Samples) known(class string) error {
	for _, c := range s.classes {
		if c == class {
			return nil
		}
	}
	return fmt.Errorf("teach: unknown class %q: the classes are %s", class, strings.Join(s.classes, ", "))
}

// Add saves crop (the model-input image, BGR) as the class's next sample and
// returns its path. It never replaces a file: a name taken meanwhile (another
// process) moves on to the next number.
func (s *Samples) Add(class string, crop gocv.Mat) (path string, err error) {
	if err := s.known(class); err != nil {
		return "", err
	}
	if crop.Empty() {
		return "", errors.New("teach: empty image: nothing to save")
	}
	buf, err := gocv.IMEncode(sampleExt, crop)
	if err != nil {
		return "", fmt.Errorf("teach: encoding the sample: %w", err)
	}
	defer buf.Close()
	data := buf.GetBytes()
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 1000 {
		n := s.next[class]
		s.next[class]++
		path = filepath.Join(s.dir, class, fmt.Sprintf("%06d%s", n, sampleExt))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("teach: saving a sample: %w", unwrapPath(err))
		}
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			// A partial file would be read as a broken sample later.
			os.Remove(path)
			return "", fmt.Errorf("teach: saving a sample to %s: %w (free some space or choose another samples folder; the samples saved before are kept)", path, werr)
		}
		s.counts[class]++
		return path, nil
	}
	return "", fmt.Errorf("teach: no free file name in %s", filepath.Join(s.dir, class))
}

// Counts is the number of samples per class.
func (s *Samples) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Recent returns the paths of the class's n newest samples, newest first
// (thumbnails).
func (s *Samples) Recent(class string, n int) ([]string, error) {
	if err := s.known(class); err != nil {
		return nil, err
	}
	names, err := listImages(filepath.Join(s.dir, class))
	if err != nil {
		return nil, fmt.Errorf("teach: %w", unwrapPath(err))
	}
	var out []string
	for i := len(names) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, filepath.Join(s.dir, class, names[i]))
	}
	return out, nil
}

// list returns every class's sample paths in capture order.
func (s *Samples) list() (map[string][]string, error) {
	out := map[string][]string{}
	for _, c := range s.classes {
		names, err := listImages(filepath.Join(s.dir, c))
		if err != nil {
			return nil, fmt.Errorf("teach: samples folder %s: %w (check it is a readable folder)", s.dir, unwrapPath(err))
		}
		for _, n := range names {
			out[c] = append(out[c], filepath.Join(s.dir, c, n))
		}
	}
	return out, nil
}
