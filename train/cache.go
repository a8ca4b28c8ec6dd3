package train

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/rpscam/rpscam/internal/nn"
)

// Cache keeps per-view vectors (trunk activations or pooled features) on
// disk in models/cache/ so the slow part of training runs once. Values are
// IEEE float16 in one append-only file per model checksum, preprocessing
// version and augmentation recipe (changing any starts a new file), keyed
// by the image's contents, name, view and augmentation seed (contentKeys).
// float16 halves memory and disk; an interrupted run keeps every record it
// flushed.
//
// The vectors are read where they lie in the file, mapped into memory
// (mapFile), not copied onto the Go heap: the 12-view recipe's 3.4 GB of
// activations are then the kernel's file cache, which it can drop and read
// again when memory is short, instead of heap that the collector lets grow
// to 1.25 times its live size and that had a first run peak at 6.95 GB.
// Records appended by Put stay on the heap only until the next Save maps
// them too.
//
// Record: key length (uint32 LE), key bytes, dim (uint32 LE), dim float16 LE.
// A truncated last record (a crash mid-write) is dropped on open.
type Cache struct {
	keys contentKeys
	path string
	mu   sync.Mutex
	// index holds each key's dim float16 values as little-endian bytes:
	// a slice of a mapping in maps, or a heap copy until Save maps it.
	index map[string][]byte
	maps  [][]byte // read-only mappings of the file, released by Close
	// mapped is the length of the file's prefix whose records index
	// points into maps for.
	mapped int64
	f      *os.File
	w      *bufio.Writer
}

// openActivationCache opens (or starts) the cache for one fine-tuning trunk
// (by its sha256) and one augmentation recipe under dir.
func openActivationCache(dir, trunkSHA256 string, aug AugmentConfig) (*Cache, error) {
	return openCache(filepath.Join(dir, "activations-"+cacheID(trunkSHA256, aug)+".f16"))
}

// OpenCache opens (or starts) the cache of pooled features for one backbone
// (by its sha256) and one augmentation recipe under dir.
func OpenCache(dir, backboneSHA256 string, aug AugmentConfig) (*Cache, error) {
	return openCache(filepath.Join(dir, "features-"+cacheID(backboneSHA256, aug)+".f16"))
}

func openCache(path string) (*Cache, error) {
	c := &Cache{path: path, index: map[string][]byte{}}
	c.openWriter()
	size, err := c.mapRecords()
	if err == nil && size > c.mapped && c.f != nil {
		// Drop the torn tail so that appends start on a record boundary,
		// and map the file again: no mapping may reach past its end. Only
		// the writer may: for any other the tail is the writer's record in
		// flight.
		valid := c.mapped
		c.unmapAll()
		clear(c.index)
		if err = c.f.Truncate(valid); err == nil {
			_, err = c.mapRecords()
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("feature cache %s: %w", c.path, err)
	}
	return c, nil
}

// openWriter opens the file for appending and takes its lock, so that one
// Cache at a time appends to it: two runs appending at once would
// interleave their buffered writes and could stitch one vector's start to
// another's bytes under a valid key. Without the lock (another run is
// filling the file) or without write access, c has no writer and Put
// keeps new vectors in memory only (Writable).
func (c *Cache) openWriter() {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	if !tryLock(f) {
		f.Close()
		return
	}
	c.f = f
}

// Writable reports whether Put saves to the file: false while another run
// holds it (or where it cannot be written), when vectors this run computes
// are kept in memory only.
func (c *Cache) Writable() bool { return c != nil && c.f != nil }

// mapRecords maps the part of the file after c.mapped and points index at
// the records there, up to the end or a torn record; it returns the file's
// size. c.mu is held, or c is not shared yet.
func (c *Cache) mapRecords() (int64, error) {
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close() // a mapping outlives its descriptor
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size <= c.mapped {
		return size, nil
	}
	from := c.mapped - c.mapped%pageSize()
	data, err := mapFile(f, from, int(size-from))
	if err != nil {
		return 0, err
	}
	c.maps = append(c.maps, data)
	c.mapped = from + c.indexRecords(data, int(c.mapped-from))
	return size, nil
}

// indexRecords points index at the records in data from offset at on and
// returns the offset after the last whole one.
func (c *Cache) indexRecords(data []byte, at int) int64 {
	for {
		rest := data[at:]
		if len(rest) < 4 {
			return int64(at)
		}
		klen := int(binary.LittleEndian.Uint32(rest))
		if klen > 1<<16 || len(rest) < 8+klen {
			return int64(at)
		}
		key := rest[4 : 4+klen]
		dim := int(binary.LittleEndian.Uint32(rest[4+klen:]))
		if dim > 1<<24 || len(rest) < 8+klen+2*dim {
			return int64(at)
		}
		c.index[string(key)] = rest[8+klen : 8+klen+2*dim : 8+klen+2*dim]
		at += 8 + klen + 2*dim
	}
}

// Path is the cache file.
func (c *Cache) Path() string { return c.path }

// Len is the number of cached vectors.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}

// Key identifies one view of one file (see contentKeys).
func (c *Cache) Key(path string, view int, augSeed uint64) (string, error) {
	return c.keys.key(path, view, augSeed)
}

// Get returns the cached activation as float32 (rounded to float16 when stored).
func (c *Cache) Get(key string) ([]float32, bool) {
	h, ok := c.GetHalf(key)
	if !ok {
		return nil, false
	}
	out := make([]float32, len(h)/2)
	nn.HalfBytesToFloat32sInto(out, h)
	return out, true
}

// GetHalf returns the float16 values the cache keeps for key as
// little-endian bytes: shared, not copied (read-only memory once mapped),
// and valid until Close.
func (c *Cache) GetHalf(key string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.index[key]
	return h, ok
}

// Put stores v as float16, appending it to the file (flushed by Save), and
// rounds v in place to the values stored: the run that fills the cache then
// trains on exactly what every later run reads back, so a first run and a
// rerun from the cache give the same parameters. A write error is kept and
// returned by Save. A Cache that is not Writable keeps v in memory only.
func (c *Cache) Put(key string, v []float32) {
	if c == nil {
		return
	}
	rec := make([]byte, 8+len(key)+2*len(v))
	binary.LittleEndian.PutUint32(rec, uint32(len(key)))
	copy(rec[4:], key)
	binary.LittleEndian.PutUint32(rec[4+len(key):], uint32(len(v)))
	h := rec[8+len(key):]
	nn.HalfBytesFromFloat32sInto(h, v)
	nn.HalfBytesToFloat32sInto(v, h)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index[key] = h
	if c.f == nil {
		return // not the writer: in memory only
	}
	if c.w == nil {
		c.w = bufio.NewWriterSize(c.f, 1<<20)
	}
	c.w.Write(rec)
}

// Save flushes appended records to disk and maps them from the file, so
// that their heap copies can go once callers take them again from GetHalf.
func (c *Cache) Save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		return nil
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("feature cache %s: %w (free disk space or pass another --cache)", c.path, err)
	}
	if _, err := c.mapRecords(); err != nil {
		return fmt.Errorf("feature cache %s: %w", c.path, err)
	}
	return nil
}

// Close flushes and closes the file and releases its mappings: vectors
// from GetHalf must not be used after it.
func (c *Cache) Close() error {
	if c == nil {
		return nil
	}
	err := c.Save()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		if cerr := c.f.Close(); err == nil {
			err = cerr
		}
		c.f, c.w = nil, nil
	}
	clear(c.index)
	if uerr := c.unmapAll(); err == nil {
		err = uerr
	}
	return err
}

// unmapAll releases every mapping.
func (c *Cache) unmapAll() error {
	var err error
	for _, m := range c.maps {
		if uerr := unmapFile(m); err == nil {
			err = uerr
		}
	}
	c.maps, c.mapped = nil, 0
	return err
}
