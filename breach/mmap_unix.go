//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package breach

import (
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// mmapFile maps the whole file read-only and tells the kernel access is
// random, so a cold lookup reads only the pages it touches (no
// read-ahead).
func mmapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || size > math.MaxInt {
		return nil, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = unix.Madvise(b, unix.MADV_RANDOM) // advice only
	return b, nil
}

func munmap(b []byte) error { return unix.Munmap(b) }
