// Command fimbench measures propsec's file integrity monitor for
// bench/integrity.sh: a baseline (-mode init) or a scan (-mode scan) of -root
// through the Go API on a SQLite store, or the raw hashing floor (-mode
// floor): every regular file read and BLAKE3-hashed by as many workers as
// the monitor uses, nothing stored. It prints one line:
//
//	mode=scan files=15036 seconds=0.312 maxrss_mib=41.2 violations=0
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zeebo/blake3"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/sqlitestore"
)

func main() {
	mode := flag.String("mode", "scan", "init, scan or floor")
	root := flag.String("root", "", "directory to baseline, scan or hash")
	db := flag.String("db", "fim.db", "SQLite file (init and scan)")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "files read at once")
	flag.Parse()
	if *root == "" {
		log.Fatal("-root is required")
	}
	ctx := context.Background()
	start := time.Now()
	var files, violations int64
	switch *mode {
	case "floor":
		files = floor(*root, *workers)
	case "init", "scan":
		st, err := sqlitestore.Open(ctx, *db)
		if err != nil {
			log.Fatal(err)
		}
		defer st.Close()
		mon, err := integrity.New(integrity.Config{Store: st, Key: []byte("fimbench key, 32 bytes or more.."),
			Roots: []string{*root}, Workers: *workers})
		if err != nil {
			log.Fatal(err)
		}
		defer mon.Close()
		start = time.Now()
		if *mode == "init" {
			if _, err := mon.Init(ctx); err != nil {
				log.Fatal(err)
			}
		} else {
			c, err := mon.Scan(ctx)
			if err != nil {
				log.Fatal(err)
			}
			files, violations = c.FilesScanned, c.ViolationsFound
		}
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	secs := time.Since(start).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("mode=%s files=%d seconds=%.3f maxrss_mib=%.1f violations=%d\n",
		*mode, files, secs, float64(ru.Maxrss)/1024, violations)
}

// floor reads and hashes every regular file under root with n workers.
func floor(root string, n int) int64 {
	paths := make(chan string, 1024)
	var count atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			h := blake3.New()
			for p := range paths {
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				h.Reset()
				io.CopyBuffer(h, f, buf)
				f.Close()
				count.Add(1)
			}
		})
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths <- p
		}
		return nil
	})
	close(paths)
	wg.Wait()
	return count.Load()
}
