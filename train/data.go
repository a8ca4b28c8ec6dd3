// Package train turns labelled hand photos into the rpscam gesture model: it
// lists the training sources, splits them without leaks, augments images
// towards what a webcam sees, caches backbone features, trains the softmax
// head and records what it did.
package train

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rpscam/rpscam/capture"
)

// Labels is the class order of every rpscam model: the three gestures,
// then "none", the empty capture box (no hand), which a live demo sees
// before anyone raises a hand. An array, so that no caller can change the
// order for everyone: slice a copy where a []string is needed.
var Labels = [...]string{"rock", "paper", "scissors", "none"}

// noHand is the index of the "none" class in Labels.
const noHand = 3

// ClassIndex returns the index of label in Labels, or -1.
func ClassIndex(label string) int {
	for i, l := range Labels {
		if l == label {
			return i
		}
	}
	return -1
}

// Grouping names how a source's files are grouped so that near-duplicates
// (renders of one hand model, frames of one clip) land on one side of a split.
type Grouping string

const (
	// GroupNone puts every file in its own group.
	GroupNone Grouping = "file"
	// GroupCGIModel groups the TFDS renders by hand model: "rock03-117.jpg" -> "rock03".
	GroupCGIModel Grouping = "cgi-model"
	// GroupClip groups the sxsw crops by video clip or photo session.
	GroupClip Grouping = "clip"
	// GroupScene groups subhih's crops by recording session and blocks of
	// 50 consecutive pictures ("2_pic00117.jpg" -> "2/2"): a hand crop and
	// the none crop of one scene, and neighbouring scenes, stay together.
	GroupScene Grouping = "scene"
	// GroupFrames groups numbered webcam frames of one class folder
	// ("rock/117.jpg", "none/117__ab12.jpg") into blocks of 25 frames,
	// which are near-copies of each other.
	GroupFrames Grouping = "frames"
	// GroupPerson groups the Sign Language Digits photos by student: one
	// student's digits were taken in a run of ten consecutive numbers
	// ("IMG_1123.jpg" -> "112").
	GroupPerson Grouping = "person"
)

// HoldOut says which fixed, seed-independent part of a source is kept as its
// test set, for sources without an upstream test split.
type HoldOut int

const (
	// NoHoldOut: the source has its own test split elsewhere, or none.
	NoHoldOut HoldOut = iota
	// HoldOutFiles keeps the files whose base name hashes into the lowest
	// holdOutPercent (HeldOut): right where every file is its own group.
	HoldOutFiles
	// HoldOutGroups keeps the groups whose key hashes into the lowest
	// holdOutPercent, so near-duplicates of a test image are never trained on.
	HoldOutGroups
	// HoldOutLastGroups keeps the last holdOutPercent of each class's groups
	// in sorted order: the last frames a person recorded of each gesture.
	HoldOutLastGroups
)

// Source is one folder of class sub-folders used for training.
type Source struct {
	Name     string   // short name used in records and --leave-out, e.g. "sxsw"
	Dir      string   // holds class folders: rock/, paper/, scissors/, none/ (any of them)
	Grouping Grouping // how near-duplicates are grouped
	// HoldOut reserves a fixed, seed-independent part of the source as a
	// test set that training never sees.
	HoldOut HoldOut
	// Background says what the augmenter may replace: "white" (CGI renders),
	// "green" (green-screen photos) or "" (real scenes: keep).
	Background string
}

// DefaultSources are the training sources under the shared data root: only
// data whose license allows training (../shared/README.md); the eval-only
// collections are never listed here.
func DefaultSources(shared string) []Source {
	real := filepath.Join(shared, "data", "rps-real")
	return []Source{
		{Name: "cgi", Dir: filepath.Join(shared, "data", "rps-cgi", "train"), Grouping: GroupCGIModel, Background: "white"},
		{Name: "drgfreeman", Dir: filepath.Join(real, "drgfreeman"), Grouping: GroupNone, HoldOut: HoldOutFiles, Background: "green"},
		{Name: "sxsw", Dir: filepath.Join(real, "sxsw", "train"), Grouping: GroupClip},
		{Name: "subhih", Dir: filepath.Join(real, "subhih", "train"), Grouping: GroupScene},
		{Name: "parikshitkumar1", Dir: filepath.Join(real, "parikshitkumar1"), Grouping: GroupFrames, HoldOut: HoldOutLastGroups},
		{Name: "signdigits", Dir: filepath.Join(real, "signdigits"), Grouping: GroupPerson, HoldOut: HoldOutGroups},
	}
}

// dataLicenses names the license and attribution of every default source
// and of the backbone weights, for training records and model cards.
const dataLicenses = "rps-cgi: CC BY 2.0 (Laurence Moroney); drgfreeman: CC BY-SA 4.0 (Julien de la Bruere-Terreault); sxsw: CDLA-Sharing-1.0 (Roboflow Universe); " +
	"subhih: Apache-2.0 (Subhi Hadba, SubhiH/HandsDataset); parikshitkumar1: MIT (parikshitkumar1/Best_Of_One); " +
	"signdigits: Apache-2.0 (Arda Mavi, Sign-Language-Digits-Dataset, arXiv:2011.08927); MobileNet-v2: Apache-2.0 (google-coral/test_data)"

// holdOutPercent is the share of a HoldOut source reserved for testing.
const holdOutPercent = 20

// HeldOut reports whether the file belongs to the fixed test part of a
// HoldOutFiles source. It hashes the base name only, so the choice does not
// depend on the seed, the machine or where the data lives.
func HeldOut(path string) bool {
	return hashPercent(filepath.Base(path)) < holdOutPercent
}

func hashPercent(key string) uint32 {
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint32(sum[:4]) % 100
}

// Example is one labelled image.
type Example struct {
	Path   string
	Class  int    // index into Labels
	Source string // Source.Name
	Group  string // near-duplicate group, unique across sources
	BG     string // Source.Background
}

// listDir lists the images directly in dir's class folders (rock, paper,
// scissors, none), sorted by path, with capture.ListImages (the one lister
// every command uses: same extensions, hidden files skipped). A source may
// lack some classes (photos of open palms and V signs only); one with none
// of the folders is an error naming the layout.
func listDir(dir string) ([]Example, error) {
	classOf := map[string]int{}
	for ci, label := range Labels {
		cd := filepath.Join(dir, label)
		st, err := os.Stat(cd)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading class folder: %w", err)
		}
		if st.IsDir() {
			classOf[filepath.Clean(cd)] = ci
		}
	}
	if len(classOf) == 0 {
		return nil, fmt.Errorf("%s holds no class folder: expected rock/, paper/, scissors/ and/or none/ folders of images", dir)
	}
	noImages := fmt.Errorf("no images (.jpg, .png, ...) in %s/{rock,paper,scissors,none}", dir)
	var out []Example
	for cd, ci := range classOf {
		imgs, err := capture.ListImages(cd)
		if err != nil {
			var empty *capture.NoImagesError
			if errors.As(err, &empty) {
				continue
			}
			return nil, err
		}
		for _, im := range imgs {
			// Only the class folder's own files: a sub-folder is not a class.
			if filepath.Dir(filepath.Clean(im.Path)) == cd {
				out = append(out, Example{Path: im.Path, Class: ci})
			}
		}
	}
	if len(out) == 0 {
		return nil, noImages
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// List lists a source, assigning groups; held-out files are returned
// separately when the source has HoldOut set.
func (s Source) List() (train, heldOut []Example, err error) {
	all, err := listDir(s.Dir)
	if err != nil {
		return nil, nil, fmt.Errorf("source %s: %w", s.Name, err)
	}
	for i := range all {
		all[i].Source = s.Name
		all[i].BG = s.Background
		all[i].Group = s.Name + "/" + groupKey(s.Grouping, all[i].Path)
	}
	held := s.heldOutGroups(all)
	for _, ex := range all {
		if held[ex.Group] || s.HoldOut == HoldOutFiles && HeldOut(ex.Path) {
			heldOut = append(heldOut, ex)
			continue
		}
		train = append(train, ex)
	}
	return train, heldOut, nil
}

// heldOutGroups is the set of groups a HoldOutGroups or HoldOutLastGroups
// source keeps for testing.
func (s Source) heldOutGroups(all []Example) map[string]bool {
	held := map[string]bool{}
	switch s.HoldOut {
	case HoldOutGroups:
		for _, ex := range all {
			if hashPercent(ex.Group) < holdOutPercent {
				held[ex.Group] = true
			}
		}
	case HoldOutLastGroups:
		byClass := map[int][]string{}
		seen := map[string]bool{}
		for _, ex := range all {
			if !seen[ex.Group] {
				seen[ex.Group] = true
				byClass[ex.Class] = append(byClass[ex.Class], ex.Group)
			}
		}
		for _, groups := range byClass {
			sort.Strings(groups) // GroupFrames keys sort in frame order
			n := (len(groups)*holdOutPercent + 99) / 100
			for _, g := range groups[len(groups)-n:] {
				held[g] = true
			}
		}
	}
	return held
}

var (
	cgiModelRe  = regexp.MustCompile(`^(.*?)-\d+$`)
	roboflowRe  = regexp.MustCompile(`(_(jpg|jpeg|png))*\.rf\.[0-9a-f]+.*$`)
	splitPrefix = regexp.MustCompile(`^(training|testing|train|test|valid)__(rock|paper|scissors)\.`)
	frameRe     = regexp.MustCompile(`^(.*[A-Za-z_].*?)-\d+$`)
	sessionRe   = regexp.MustCompile(`^((Photo-on|Screen-Shot|Screen-Recording)-.*?)-at-`)
	timestampRe = regexp.MustCompile(`^(.*-)(\d{13})$`)
	sceneRe     = regexp.MustCompile(`^(?:(.*)_)?pic(\d+)$`)
	frameNumRe  = regexp.MustCompile(`^(\d+)(?:__.*)?$`)
	imgNumRe    = regexp.MustCompile(`^IMG_(\d+)$`)
)

// groupKey returns the near-duplicate group of a file under a grouping.
func groupKey(g Grouping, path string) string {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	switch g {
	case GroupCGIModel:
		if m := cgiModelRe.FindStringSubmatch(stem); m != nil {
			return m[1]
		}
		return stem
	case GroupClip:
		return clipKey(stem)
	case GroupScene:
		if m := sceneRe.FindStringSubmatch(stem); m != nil {
			n, _ := strconv.Atoi(m[2])
			return fmt.Sprintf("%s/%d", m[1], n/50)
		}
		return stem
	case GroupFrames:
		class := filepath.Base(filepath.Dir(path))
		if m := frameNumRe.FindStringSubmatch(stem); m != nil {
			n, _ := strconv.Atoi(m[1])
			// Zero-padded so that the keys sort in frame order.
			return fmt.Sprintf("%s/%04d", class, (n-1)/25)
		}
		return class + "/" + stem
	case GroupPerson:
		if m := imgNumRe.FindStringSubmatch(stem); m != nil {
			n, _ := strconv.Atoi(m[1])
			return strconv.Itoa(n / 10)
		}
		return stem
	default:
		return stem
	}
}

// clipKey reduces an sxsw (Roboflow export) file name to its clip or
// session: the Roboflow suffix goes (variants of one source image), then the
// frame number of a video ("IMG_7043_MOV-113" -> "IMG_7043_MOV"), photo
// sessions keep only their date, and egohands millisecond timestamps are
// bucketed into 100-second windows.
func clipKey(stem string) string {
	s := splitPrefix.ReplaceAllString(stem, "")
	s = roboflowRe.ReplaceAllString(s, "")
	if m := sessionRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	if m := timestampRe.FindStringSubmatch(s); m != nil {
		ms, _ := strconv.ParseInt(m[2], 10, 64)
		return m[1] + strconv.FormatInt(ms/100000, 10)
	}
	if m := frameRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return s
}

// Split divides examples into training and validation parts by group, so
// that no group straddles them. About valFraction of each source's groups
// (at least one when the source has two or more) go to validation, chosen by
// a shuffle seeded with seed; the result does not depend on input order.
//
// When every group of a source holds a single class (the CGI renders), the
// groups are chosen per class, valFraction of each class's groups, since
// chance alone can fill a source's validation share with one class and
// then select models that favour it. Sources whose groups mix classes are
// split as a whole.
func Split(examples []Example, valFraction float64, seed uint64) (trainSet, valSet []Example, err error) {
	if valFraction < 0 || valFraction >= 1 {
		return nil, nil, fmt.Errorf("validation fraction %v out of range: use a value in [0, 1)", valFraction)
	}
	const mixed = -1
	// groupClass[source][group] is the group's class, or mixed.
	groupClass := map[string]map[string]int{}
	for _, ex := range examples {
		if groupClass[ex.Source] == nil {
			groupClass[ex.Source] = map[string]int{}
		}
		c, seen := groupClass[ex.Source][ex.Group]
		switch {
		case !seen:
			groupClass[ex.Source][ex.Group] = ex.Class
		case c != ex.Class:
			groupClass[ex.Source][ex.Group] = mixed
		}
	}
	sources := make([]string, 0, len(groupClass))
	for s := range groupClass {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	valGroups := map[string]bool{}
	for si, s := range sources {
		// strata: one list of groups per class, or one list of all groups
		// when any group mixes classes.
		byClass := map[int][]string{}
		for g, c := range groupClass[s] {
			byClass[c] = append(byClass[c], g)
		}
		strata := [][]string{}
		if _, anyMixed := byClass[mixed]; anyMixed {
			var all []string
			for _, gs := range byClass {
				all = append(all, gs...)
			}
			strata = append(strata, all)
		} else {
			for c := range len(Labels) {
				if len(byClass[c]) > 0 {
					strata = append(strata, byClass[c])
				}
			}
		}
		rng := rand.New(rand.NewPCG(seed, uint64(si)+1))
		for _, groups := range strata {
			sort.Strings(groups)
			rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
			n := int(float64(len(groups))*valFraction + 0.5)
			if n == 0 && valFraction > 0 && len(groups) >= 2 {
				n = 1
			}
			for _, g := range groups[:n] {
				valGroups[g] = true
			}
		}
	}
	for _, ex := range examples {
		if valGroups[ex.Group] {
			valSet = append(valSet, ex)
		} else {
			trainSet = append(trainSet, ex)
		}
	}
	if len(trainSet) == 0 {
		return nil, nil, errors.New("split left no training examples: lower the validation fraction or add data")
	}
	return trainSet, valSet, nil
}

// keepShare returns the examples of about share of their groups (at least
// one group), chosen by a shuffle seeded with seed. The groups are ranked
// once per seed, so a smaller share keeps a subset of a larger one's: the
// points of a learning curve differ only in the data added between them.
func keepShare(examples []Example, share float64, seed uint64) []Example {
	if share >= 1 {
		return examples
	}
	var groups []string
	seen := map[string]bool{}
	for _, ex := range examples {
		if !seen[ex.Group] {
			seen[ex.Group] = true
			groups = append(groups, ex.Group)
		}
	}
	sort.Strings(groups)
	rng := rand.New(rand.NewPCG(seed, 0x5a4e))
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	keep := map[string]bool{}
	for _, g := range groups[:max(1, int(float64(len(groups))*share+0.5))] {
		keep[g] = true
	}
	var out []Example
	for _, ex := range examples {
		if keep[ex.Group] {
			out = append(out, ex)
		}
	}
	return out
}

// shuffle returns a copy of examples in an order fixed by seed.
func shuffle(examples []Example, seed uint64) []Example {
	out := append([]Example(nil), examples...)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
