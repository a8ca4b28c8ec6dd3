package train

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestGroupKey(t *testing.T) {
	cases := []struct {
		g          Grouping
		path, want string
	}{
		{GroupCGIModel, "x/rock/rock03-117.jpg", "rock03"},
		{GroupCGIModel, "x/rock/rock07-k03-001.jpg", "rock07-k03"},
		{GroupNone, "x/rock/0NDYNEoDui7o64gU.jpg", "0NDYNEoDui7o64gU"},
		{GroupClip, "training__paper.IMG_7043_MOV-113_jpg.rf.f4057849b1b8856836b2f21799e8b08c_00564.jpg", "IMG_7043_MOV"},
		{GroupClip, "testing__scissors.IMG_7077_MOV-166_jpg.rf.d8eb9de84daa67e6838bb0e8877de14e_00822.jpg", "IMG_7077_MOV"},
		{GroupClip, "training__rock.0003_png.rf.9bcfca705d67775d244ac7f85110d31d_01009.jpg", "0003"},
		{GroupClip, "training__paper.Photo-on-2-16-22-at-10-21-AM_jpg.rf.12b5b01671e264b981dc63e5_00525.jpg", "Photo-on-2-16-22"},
		{GroupClip, "training__paper.Screen-Shot-2022-02-08-at-1-00-12-PM_png.rf.8e643b51a03b6f2f_00667.jpg", "Screen-Shot-2022-02-08"},
		{GroupClip, "testing__rock.egohands-public-1624298527625_png_jpg.rf.2f584b07e584c3ae4d7_00471.jpg", "egohands-public-16242985"},
		{GroupClip, "training__paper.20220216_222108_jpg.rf.431f3ae6208bbe89da15a40af12a7d74_01197.jpg", "20220216_222108"},
		{GroupScene, "x/rock/1528664299.56_pic00087.jpg", "1528664299.56/1"},
		{GroupScene, "x/none/1528664299.56_pic00099.jpg", "1528664299.56/1"},
		{GroupScene, "x/none/1528664299.56_pic00100.jpg", "1528664299.56/2"},
		{GroupScene, "x/paper/pic00106.jpg", "/2"},
		{GroupScene, "x/paper/Hand_0009484.jpg", "Hand_0009484"},
		{GroupFrames, "x/rock/1.jpg", "rock/0000"},
		{GroupFrames, "x/rock/25.jpg", "rock/0000"},
		{GroupFrames, "x/rock/26.jpg", "rock/0001"},
		{GroupFrames, "x/none/250__9c0499f53751.jpg", "none/0009"},
		{GroupPerson, "x/paper/IMG_1123.jpg", "112"},
		{GroupPerson, "x/scissors/IMG_1120.jpg", "112"},
		{GroupPerson, "x/scissors/IMG_1130.jpg", "113"},
	}
	for _, c := range cases {
		if got := groupKey(c.g, c.path); got != c.want {
			t.Errorf("GroupKey(%s, %s) = %q, want %q", c.g, c.path, got, c.want)
		}
	}
}

// tree makes dir/{rock,paper,scissors}/<name>.jpg empty files.
func tree(t *testing.T, names map[string][]string) string {
	t.Helper()
	dir := t.TempDir()
	for class, files := range names {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, class, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// cgiRenders names files per class folder as the CGI set does
// ("rock03-002.jpg": hand model 3, render 2): models hand models (at most
// 9) of perModel renders each, so the CGI grouping sees models groups.
func cgiRenders(models, perModel int) map[string][]string {
	files := map[string][]string{}
	for _, class := range []string{"rock", "paper", "scissors"} {
		for m := 1; m <= models; m++ {
			for k := 0; k < perModel; k++ {
				files[class] = append(files[class], fmt.Sprintf("%s0%d-%03d.jpg", class, m, k))
			}
		}
	}
	return files
}

func TestSplitKeepsGroupsTogetherAndIsDeterministic(t *testing.T) {
	files := cgiRenders(6, 5)
	files["notes"] = []string{"x.txt"}
	dir := tree(t, files)
	src := Source{Name: "cgi", Dir: dir, Grouping: GroupCGIModel}
	all, held, err := src.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 90 || len(held) != 0 {
		t.Fatalf("listed %d (+%d held out), want 90 (+0)", len(all), len(held))
	}
	tr, val, err := Split(all, 0.25, 42)
	if err != nil {
		t.Fatal(err)
	}
	// 18 single-class groups of 5, 6 per class: 25% of each class's groups
	// -> 2 (rounded from 1.5) per class, 6 groups in validation.
	if len(val) != 30 || len(tr) != 60 {
		t.Fatalf("split %d/%d, want 60/30", len(tr), len(val))
	}
	perClass := map[int]int{}
	for _, ex := range val {
		perClass[ex.Class]++
	}
	if perClass[0] != 10 || perClass[1] != 10 || perClass[2] != 10 {
		t.Errorf("validation images per class %v, want 10 of each (2 groups of 5)", perClass)
	}
	side := map[string]bool{}
	for _, ex := range val {
		side[ex.Group] = true
	}
	for _, ex := range tr {
		if side[ex.Group] {
			t.Fatalf("group %s straddles the split", ex.Group)
		}
	}
	// Same seed, shuffled input: same split. Another seed: another split.
	tr2, _, _ := Split(shuffle(all, 7), 0.25, 42)
	set := func(xs []Example) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x.Path] = true
		}
		return m
	}
	a, b := set(tr), set(tr2)
	for p := range a {
		if !b[p] {
			t.Fatalf("split with seed 42 differs when the input order changes (%s)", p)
		}
	}
	_, val3, _ := Split(all, 0.25, 43)
	same := true
	for _, ex := range val3 {
		if !side[ex.Group] {
			same = false
		}
	}
	if same {
		t.Error("seeds 42 and 43 gave the same validation groups")
	}
}

func TestHoldOutIsFixedShareByName(t *testing.T) {
	var names []string
	for i := 0; i < 1000; i++ {
		names = append(names, filepath.Join("a", string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))+".jpg"))
	}
	n := 0
	for _, p := range names {
		if HeldOut(p) {
			n++
		}
		if HeldOut(p) != HeldOut(filepath.Join("/elsewhere", filepath.Base(p))) {
			t.Fatalf("HeldOut(%s) depends on the folder", p)
		}
	}
	if n < 150 || n > 250 {
		t.Errorf("%d of 1000 held out, want about %d%%", n, holdOutPercent)
	}
}

func TestListDirErrorsNameTheLayout(t *testing.T) {
	dir := tree(t, map[string][]string{"rocks": {"a.jpg"}})
	_, err := listDir(dir)
	if err == nil || !strings.Contains(err.Error(), "no class folder") || !strings.Contains(err.Error(), "none/") {
		t.Fatalf("a folder without class folders: %v, want an error naming the layout", err)
	}
}

// listedNames is listDir(dir) as "class/file" names.
func listedNames(t *testing.T, dir string) []string {
	t.Helper()
	exs, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ex := range exs {
		names = append(names, Labels[ex.Class]+"/"+filepath.Base(ex.Path))
	}
	return names
}

// TestListDirTakesAnySubsetOfClasses: a source may hold only some classes
// (signdigits: paper and scissors; an empty-room collection: none only).
func TestListDirTakesAnySubsetOfClasses(t *testing.T) {
	dir := tree(t, map[string][]string{"paper": {"a.jpg"}, "none": {"b.jpg", "c.png"}, "other": {"d.jpg"}})
	got := listedNames(t, dir)
	if want := []string{"none/b.jpg", "none/c.png", "paper/a.jpg"}; !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if Labels[noHand] != "none" {
		t.Errorf("Labels[NoHand] = %q, want none", Labels[noHand])
	}
}

// TestListDirListsAsCaptureDoes: listDir takes what capture.ListImages
// takes (symlinked images, as teach's stand-in folders use; not hidden
// resource forks), and only the class folder's own files, not a sub-folder's.
func TestListDirListsAsCaptureDoes(t *testing.T) {
	dir := tree(t, map[string][]string{"rock": {"a.jpg", "._a.jpg", "notes.txt"}, "rock/old": {"x.jpg"}, "paper": {}})
	if err := os.Symlink(filepath.Join(dir, "rock", "a.jpg"), filepath.Join(dir, "paper", "linked.jpg")); err != nil {
		t.Fatal(err)
	}
	got := listedNames(t, dir)
	if want := []string{"paper/linked.jpg", "rock/a.jpg"}; !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	empty := tree(t, map[string][]string{"rock": {}, "none": {"readme.txt"}})
	if _, err := listDir(empty); err == nil || !strings.Contains(err.Error(), "no images") {
		t.Errorf("class folders without images: %v, want a no-images error", err)
	}
}

// TestHoldOutLastGroups keeps the last 20% of each class's frame blocks,
// whole: frames 201-250 of every class folder, and nothing else.
func TestHoldOutLastGroups(t *testing.T) {
	files := map[string][]string{}
	for _, class := range []string{"rock", "none"} {
		for n := 1; n <= 250; n++ {
			name := fmt.Sprintf("%d.jpg", n)
			if class == "none" {
				name = fmt.Sprintf("%d__%04x.jpg", n, n*7919)
			}
			files[class] = append(files[class], name)
		}
	}
	src := Source{Name: "p", Dir: tree(t, files), Grouping: GroupFrames, HoldOut: HoldOutLastGroups}
	trainSet, held, err := src.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(trainSet) != 400 || len(held) != 100 {
		t.Fatalf("%d training and %d held-out files, want 400 and 100", len(trainSet), len(held))
	}
	for _, ex := range held {
		var n int
		fmt.Sscanf(filepath.Base(ex.Path), "%d", &n)
		if n <= 200 {
			t.Errorf("%s held out, want only frames 201-250", ex.Path)
		}
	}
}

// TestHoldOutGroupsKeepsGroupsWhole: a student's open palm and V sign are
// held out together, about holdOutPercent of the students.
func TestHoldOutGroupsKeepsGroupsWhole(t *testing.T) {
	files := map[string][]string{}
	for s := 100; s < 300; s++ {
		files["paper"] = append(files["paper"], fmt.Sprintf("IMG_%d3.jpg", s))
		files["scissors"] = append(files["scissors"], fmt.Sprintf("IMG_%d0.jpg", s))
	}
	src := Source{Name: "sd", Dir: tree(t, files), Grouping: GroupPerson, HoldOut: HoldOutGroups}
	trainSet, held, err := src.List()
	if err != nil {
		t.Fatal(err)
	}
	heldGroups := map[string]int{}
	for _, ex := range held {
		heldGroups[ex.Group]++
	}
	for _, ex := range trainSet {
		if heldGroups[ex.Group] > 0 {
			t.Fatalf("group %s straddles the hold-out", ex.Group)
		}
	}
	for g, n := range heldGroups {
		if n != 2 {
			t.Errorf("held-out group %s has %d files, want both of the student's", g, n)
		}
	}
	if n := len(heldGroups); n < 25 || n > 55 {
		t.Errorf("%d of 200 students held out, want about %d%%", n, holdOutPercent)
	}
}

func TestSplitSourcesSplitsBySplitSeedAlone(t *testing.T) {
	dir := tree(t, cgiRenders(8, 3))
	split := func(seed, splitSeed uint64) *Splits {
		cfg := Config{Sources: []Source{{Name: "cgi", Dir: dir, Grouping: GroupCGIModel}}, ValFraction: 0.25, Seed: seed, SplitSeed: splitSeed, Views: 1}
		sp, err := SplitSources(cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	paths := func(xs []Example) []string {
		var out []string
		for _, x := range xs {
			out = append(out, x.Path)
		}
		return out
	}
	a, b, c := split(1, 1), split(2, 1), split(2, 2)
	if !slices.Equal(paths(a.Validation), paths(b.Validation)) {
		t.Error("seeds 1 and 2 with split seed 1 gave different validation sets")
	}
	if slices.Equal(paths(a.Train), paths(b.Train)) {
		t.Error("seed 2 shuffled the training images as seed 1 did: the seed should still order them")
	}
	if slices.Equal(paths(b.Validation), paths(c.Validation)) {
		t.Error("split seeds 1 and 2 gave the same validation set")
	}
}

// TestSplitMixedGroupsTogether: when a source's groups mix classes (clips
// of sxsw), the share is taken of all its groups at once, and a group never
// straddles the split even though its classes differ.
func TestSplitMixedGroupsTogether(t *testing.T) {
	var all []Example
	for g := range 10 {
		for c := range 2 {
			all = append(all, Example{Path: fmt.Sprintf("clip%d-%d.jpg", g, c), Class: c, Source: "clips", Group: fmt.Sprintf("clip%d", g)})
		}
	}
	tr, val, err := Split(all, 0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 10 groups: 25% -> 3 (rounded from 2.5), 2 images each.
	if len(val) != 6 || len(tr) != 14 {
		t.Fatalf("split %d/%d, want 14/6", len(tr), len(val))
	}
	inVal := map[string]int{}
	for _, ex := range val {
		inVal[ex.Group]++
	}
	for g, n := range inVal {
		if n != 2 {
			t.Errorf("group %s has %d of its 2 images in validation", g, n)
		}
	}
}

// TestKeepShare: whole groups are kept, about the share of them, and a
// smaller share keeps a subset of a larger one's (nested learning-curve
// points).
func TestKeepShare(t *testing.T) {
	var all []Example
	for g := range 20 {
		for k := range 3 {
			all = append(all, Example{Path: fmt.Sprintf("clip%02d-%d.jpg", g, k), Group: fmt.Sprintf("clip%02d", g)})
		}
	}
	groupsOf := func(xs []Example) map[string]int {
		m := map[string]int{}
		for _, x := range xs {
			m[x.Group]++
		}
		return m
	}
	if got := keepShare(all, 1, 7); len(got) != len(all) {
		t.Errorf("share 1 kept %d of %d", len(got), len(all))
	}
	if got := groupsOf(keepShare(all, 0.01, 7)); len(got) != 1 {
		t.Errorf("a tiny share kept %d groups, want at least (and here exactly) 1", len(got))
	}
	quarter, half := groupsOf(keepShare(all, 0.25, 7)), groupsOf(keepShare(all, 0.5, 7))
	if len(quarter) != 5 || len(half) != 10 {
		t.Fatalf("kept %d and %d of 20 groups, want 5 and 10", len(quarter), len(half))
	}
	for g, n := range half {
		if n != 3 {
			t.Errorf("group %s kept %d of its 3 images", g, n)
		}
	}
	for g := range quarter {
		if half[g] == 0 {
			t.Errorf("group %s is in the 25%% share but not the 50%% one", g)
		}
	}
	if other := groupsOf(keepShare(all, 0.5, 8)); maps.Equal(other, half) {
		t.Error("seeds 7 and 8 kept the same groups")
	}
}

// TestSplitSourcesTrainShare: the share thins training only, and is
// recorded; a share for an unknown source or out of range is refused.
func TestSplitSourcesTrainShare(t *testing.T) {
	dir := tree(t, cgiRenders(8, 3))
	src := []Source{{Name: "cgi", Dir: dir, Grouping: GroupCGIModel}}
	split := func(share map[string]float64) (*Splits, error) {
		return SplitSources(Config{Sources: src, ValFraction: 0.25, SplitSeed: 1, Views: 1, TrainShare: share}, io.Discard)
	}
	full, err := split(nil)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	half, err := SplitSources(Config{Sources: src, ValFraction: 0.25, SplitSeed: 1, Views: 1, TrainShare: map[string]float64{"cgi": 0.5}}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "training on 0.5 of its training groups") {
		t.Errorf("the source line does not say it was thinned: %q", log.String())
	}
	if len(half.Train) != len(full.Train)/2 || len(half.Validation) != len(full.Validation) {
		t.Errorf("train %d -> %d, validation %d -> %d: want half the training images and the same validation", len(full.Train), len(half.Train), len(full.Validation), len(half.Validation))
	}
	if sc := half.Sources[0]; sc.TrainShare != 0.5 || sc.Train != len(half.Train) {
		t.Errorf("source counts %+v: want share 0.5 and the kept count", sc)
	}
	for _, bad := range []map[string]float64{{"sxsw": 0.5}, {"cgi": 0}, {"cgi": 1.5}} {
		if _, err := split(bad); err == nil {
			t.Errorf("share %v accepted", bad)
		}
	}
}

// TestHeldOutPartFollowsTheSourceRule: rpscam eval --heldout on a default
// source's folder gets that source's own held-out part (here
// parikshitkumar1's last frames), and no part for a folder that is no
// default source.
func TestHeldOutPartFollowsTheSourceRule(t *testing.T) {
	shared := t.TempDir()
	dir := filepath.Join(shared, "data", "rps-real", "parikshitkumar1", "rock")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 100; n++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.jpg", n)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exs, ok, err := HeldOutPart(shared, filepath.Dir(dir))
	if err != nil || !ok {
		t.Fatalf("HeldOutPart: ok %v, %v", ok, err)
	}
	var got []string
	for _, ex := range exs {
		got = append(got, filepath.Base(ex.Path))
	}
	sort.Strings(got)
	var want []string
	for n := 76; n <= 100; n++ {
		want = append(want, fmt.Sprintf("%d.jpg", n))
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("held out %v, want frames 76-100 (the last of 4 blocks)", got)
	}
	if _, ok, err := HeldOutPart(shared, t.TempDir()); ok || err != nil {
		t.Errorf("a folder that is no default source: ok %v, %v; want no part", ok, err)
	}
}
