//go:build unix

package train

import (
	"os"
	"syscall"
)

// mapFile maps length bytes of f from offset (a multiple of the page size)
// read-only. The pages are the kernel's file cache: they do not count
// against the Go heap and the kernel can drop and re-read them under
// memory pressure.
func mapFile(f *os.File, offset int64, length int) ([]byte, error) {
	if length == 0 {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), offset, length, syscall.PROT_READ, syscall.MAP_SHARED)
}

// unmapFile releases a mapping made by mapFile.
func unmapFile(b []byte) error {
	if b == nil {
		return nil
	}
	return syscall.Munmap(b)
}

// pageSize is the alignment mapFile needs of an offset.
func pageSize() int64 { return int64(os.Getpagesize()) }

// tryLock takes f's exclusive advisory lock without waiting and reports
// whether it got it; closing f releases it. Each open of the file is its
// own holder, in one process as across processes.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
