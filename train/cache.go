package train

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
// Record: key length (uint32 LE), key bytes, dim (uint32 LE), dim float16 LE.
// A truncated last record (a crash mid-write) is dropped on open.
type Cache struct {
	keys  contentKeys
	path  string
	mu    sync.Mutex
	index map[string][]uint16
	f     *os.File
	w     *bufio.Writer
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
	c := &Cache{path: path, index: map[string][]uint16{}}
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("feature cache: %w", err)
	}
	defer f.Close()
	valid, err := c.load(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("feature cache %s: %w", c.path, err)
	}
	if st, err := f.Stat(); err == nil && st.Size() > valid {
		// Drop the torn tail so that appends start on a record boundary.
		if err := os.Truncate(c.path, valid); err != nil {
			return nil, fmt.Errorf("feature cache: %w", err)
		}
	}
	return c, nil
}

// load reads records until the end or a torn record, returning the length
// of the valid prefix.
func (c *Cache) load(r io.Reader) (int64, error) {
	var valid int64
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return valid, nil
		}
		klen := binary.LittleEndian.Uint32(hdr[:])
		if klen > 1<<16 {
			return valid, nil
		}
		key := make([]byte, klen)
		if _, err := io.ReadFull(r, key); err != nil {
			return valid, nil
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return valid, nil
		}
		dim := binary.LittleEndian.Uint32(hdr[:])
		if dim > 1<<24 {
			return valid, nil
		}
		raw := make([]byte, 2*dim)
		if _, err := io.ReadFull(r, raw); err != nil {
			return valid, nil
		}
		v := make([]uint16, dim)
		for i := range v {
			v[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
		c.index[string(key)] = v
		valid += int64(8 + int(klen) + 2*int(dim))
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
	return nn.HalfToFloat32s(h), true
}

// GetHalf returns the binary16 bits the cache keeps for key: shared, not
// copied, so the caller must not change them.
func (c *Cache) GetHalf(key string) ([]uint16, bool) {
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
// returned by Save.
func (c *Cache) Put(key string, v []float32) {
	if c == nil {
		return
	}
	h := nn.HalfFromFloat32s(v)
	for i, x := range h {
		v[i] = nn.HalfToFloat32(x)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index[key] = h
	if c.w == nil {
		if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
			return
		}
		f, err := os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return
		}
		c.f, c.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(key)))
	c.w.Write(hdr[:])
	c.w.WriteString(key)
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(h)))
	c.w.Write(hdr[:])
	buf := make([]byte, 2*len(h))
	for i, x := range h {
		binary.LittleEndian.PutUint16(buf[2*i:], x)
	}
	c.w.Write(buf)
}

// Save flushes appended records to disk.
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
	return nil
}

// Close flushes and closes the file.
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
	return err
}
