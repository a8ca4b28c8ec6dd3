package train

import (
	"os"
	"testing"
	"unsafe"
)

// inMapping reports whether b lies inside one of c's mappings of its file.
func inMapping(c *Cache, b []byte) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	for _, m := range c.maps {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
		if len(b) > 0 && p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(m)) {
			return true
		}
	}
	return false
}

// TestCacheServesVectorsFromItsFile: what Put appends is a heap copy until
// Save, then every vector, appended or found on open, is read where it lies
// in the mapped file (at odd offsets too: keys of any length), and Close
// releases the mappings.
func TestCacheServesVectorsFromItsFile(t *testing.T) {
	dir := t.TempDir()
	c, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	c.Put("odd", []float32{1, 2, 3})
	h, _ := c.GetHalf("odd")
	if inMapping(c, h) {
		t.Fatal("a vector not yet saved is served from a mapping")
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c.Put("even", []float32{-4, 0.5})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]float32{"odd": {1, 2, 3}, "even": {-4, 0.5}} {
		h, ok := c.GetHalf(key)
		if !ok || !inMapping(c, h) {
			t.Errorf("after Save, %q (found %v) is not read from the mapped file", key, ok)
		}
		got, _ := c.Get(key)
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("Get(%q) = %v, want %v", key, got, want)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c.maps) != 0 || c.Len() != 0 {
		t.Errorf("after Close: %d mappings, %d entries, want none", len(c.maps), c.Len())
	}
	c2, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for _, key := range []string{"odd", "even"} {
		if h, ok := c2.GetHalf(key); !ok || !inMapping(c2, h) {
			t.Errorf("reopened: %q (found %v) is not read from the mapped file", key, ok)
		}
	}
}

func TestActivationCacheRoundTripAndTornTail(t *testing.T) {
	dir := t.TempDir()
	c, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	a := []float32{0, 1, -2.5, 1000, 1.0 / 3}
	b := []float32{6, 5, 4}
	c.Put("a", a)
	c.Put("b", b)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-record: a few bytes of a third record.
	f, err := os.OpenFile(c.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{9, 0, 0, 0, 'c'})
	f.Close()

	c2, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	if c2.Len() != 2 {
		t.Fatalf("reopened cache has %d entries, want 2", c2.Len())
	}
	got, ok := c2.Get("a")
	// float16 keeps these exactly except 1/3, which rounds to 0.333252
	want := []float32{0, 1, -2.5, 1000, 0.33325195}
	if !ok || len(got) != len(want) {
		t.Fatalf("Get(a) = %v, %v", got, ok)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("a[%d] = %v, want %v", i, got[i], want[i])
		}
		// Put rounded the caller's vector to the stored values, so the run
		// that filled the cache used what later runs read.
		if a[i] != want[i] {
			t.Errorf("after Put, the caller's a[%d] = %v, want the stored %v", i, a[i], want[i])
		}
	}
	// Appending after the torn tail was dropped keeps the file readable.
	c2.Put("c", []float32{7})
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	c3, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := c3.Get("c"); !ok || len(v) != 1 || v[0] != 7 {
		t.Errorf("Get(c) after reopening = %v, %v", v, ok)
	}
	if v, ok := c3.Get("b"); !ok || v[0] != 6 || v[2] != 4 {
		t.Errorf("Get(b) = %v, %v", v, ok)
	}
	// Another trunk is another file.
	other, err := openActivationCache(dir, "other-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	if other.Len() != 0 || other.Path() == c3.Path() {
		t.Errorf("a different trunk shares the cache file %s", other.Path())
	}
}

// TestCacheHasOneWriter: while one Cache holds the file (another run
// filling it), a second one reads what the first saved but appends nothing
// and leaves its record in flight alone: interleaved appends could stitch
// one vector's start to another's bytes under a valid key. Once the
// writer is gone, the next Cache truncates the torn tail and writes.
func TestCacheHasOneWriter(t *testing.T) {
	dir := t.TempDir()
	writer, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	if !writer.Writable() {
		t.Fatal("the first Cache on a new file is not writable")
	}
	writer.Put("w1", []float32{1, 2})
	if err := writer.Save(); err != nil {
		t.Fatal(err)
	}
	// Part of the writer's next record, flushed while it is being written.
	f, err := os.OpenFile(writer.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{2, 0, 0, 0, 'w', '2', 1, 0})
	f.Close()
	before, err := os.Stat(writer.Path())
	if err != nil {
		t.Fatal(err)
	}

	reader, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	if reader.Writable() {
		t.Error("a second Cache on a file another one writes is writable")
	}
	if v, ok := reader.Get("w1"); !ok || len(v) != 2 || v[1] != 2 {
		t.Errorf("the second Cache reads w1 as %v, %v", v, ok)
	}
	reader.Put("r1", []float32{3})
	if v, ok := reader.Get("r1"); !ok || v[0] != 3 {
		t.Errorf("the second Cache lost its own vector r1 in memory: %v, %v", v, ok)
	}
	if err := reader.Close(); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(writer.Path()); err != nil || after.Size() != before.Size() {
		t.Errorf("the second Cache changed the file: %d bytes, was %d (%v)", after.Size(), before.Size(), err)
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}

	next, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	if !next.Writable() || next.Len() != 1 {
		t.Fatalf("after the writer closed: writable %v, %d entries, want true and 1 (w1)", next.Writable(), next.Len())
	}
	next.Put("n1", []float32{4})
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	last, err := openActivationCache(dir, "trunk-sha", DefaultAugment())
	if err != nil {
		t.Fatal(err)
	}
	defer last.Close()
	for key, want := range map[string]bool{"w1": true, "n1": true, "r1": false} {
		if _, ok := last.Get(key); ok != want {
			t.Errorf("reopened: %q present %v, want %v", key, ok, want)
		}
	}
}
