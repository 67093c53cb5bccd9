package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/breach"
)

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    breach.ImportProgress
		el   time.Duration
		want string
	}{
		{"a quarter of a file", breach.ImportProgress{BytesRead: 250e6, TotalBytes: 1e9, Hashes: 5e6}, 10 * time.Second,
			"[#####...............]  25.0% 250.0 MB / 1.0 GB  25.0 MB/s  5000000 hashes  ETA 30s"},
		{"half of a directory", breach.ImportProgress{BytesRead: 2e9, Files: 512, TotalFiles: 1024, Hashes: 7}, time.Minute,
			"[##########..........]  50.0% 2.0 GB  33.3 MB/s  7 hashes  ETA 1m0s"},
		{"unknown total", breach.ImportProgress{BytesRead: 999, Hashes: 1}, time.Second,
			"999 B  999 B/s  1 hashes"},
		{"done", breach.ImportProgress{BytesRead: 1e6, TotalBytes: 1e6, Hashes: 3, Done: true}, time.Second,
			"[####################] 100.0% 1.0 MB / 1.0 MB  1.0 MB/s  3 hashes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, progressLine(tc.p, tc.el))
		})
	}
}
