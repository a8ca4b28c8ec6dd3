//go:build !unix

package train

import (
	"io"
	"os"
)

// mapFile reads length bytes of f from offset into memory: this system has
// no mmap here, so the cache's vectors live on the heap.
func mapFile(f *os.File, offset int64, length int) ([]byte, error) {
	b := make([]byte, length)
	if _, err := f.ReadAt(b, offset); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// unmapFile has nothing to release for a heap copy.
func unmapFile([]byte) error { return nil }

// pageSize: any offset will do for a read.
func pageSize() int64 { return 1 }

// tryLock: no advisory locks here; every run may append.
func tryLock(*os.File) bool { return true }
