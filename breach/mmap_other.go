//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package breach

import "os"

// mmapFile does not map on this platform; the corpus reads with ReadAt.
func mmapFile(*os.File, int64) ([]byte, error) { return nil, nil }

func munmap([]byte) error { return nil }
