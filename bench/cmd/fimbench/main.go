// Command fimbench measures propsec's file integrity monitor for
// bench/integrity.sh: a baseline (-mode init) or a scan (-mode scan) of -root
// through the Go API on a SQLite store, or the raw hashing floor (-mode
// floor): every regular file read and BLAKE3-hashed by as many workers as
// the monitor uses, nothing stored, read the cheapest way (see floor). It
// prints one line:
//
//	mode=scan files=15036 seconds=0.312 maxrss_mib=41.2 violations=0
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

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

// floor reads and hashes every regular file under root with n workers, as
// cheaply as a reader can: one goroutine walks (each directory opened once,
// its entries listed once, typed by the listing), and each worker opens a
// file relative to its directory's descriptor (openat, O_NOATIME where
// permitted), reads it into one buffer it reuses (a read shorter than the
// buffer is the end: one read for a file under 1 MiB), hashes it with the
// same BLAKE3 as the monitor, and closes it. No stat, no second read, no
// path strings built, nothing stored.
func floor(root string, n int) int64 {
	type dir struct {
		f    *os.File
		fd   int
		refs atomic.Int32 // the walker's and each pending file's
	}
	release := func(d *dir) {
		if d.refs.Add(-1) == 0 {
			d.f.Close()
		}
	}
	type job struct {
		d    *dir
		name string
	}
	jobs := make(chan job, 1024)
	var count atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			h := blake3.New()
			var sum [32]byte
			for j := range jobs {
				fd, err := openat(j.d.fd, j.name)
				release(j.d)
				if err != nil {
					continue
				}
				h.Reset()
				for {
					m, err := unix.Read(fd, buf)
					if err == unix.EINTR {
						continue
					}
					if m > 0 {
						h.Write(buf[:m])
					}
					if err != nil || m < len(buf) {
						break
					}
				}
				h.Sum(sum[:0])
				unix.Close(fd)
				count.Add(1)
			}
		})
	}
	stack := []int{}
	if fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		stack = append(stack, fd)
	}
	for len(stack) > 0 {
		fd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		d := &dir{f: os.NewFile(uintptr(fd), ""), fd: fd}
		d.refs.Store(1)
		ents, _ := d.f.ReadDir(-1)
		for _, e := range ents {
			switch t := e.Type(); {
			case t.IsRegular():
				d.refs.Add(1)
				jobs <- job{d, e.Name()}
			case t.IsDir():
				if sub, err := unix.Openat(fd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
					stack = append(stack, sub)
				}
			}
		}
		release(d)
	}
	close(jobs)
	wg.Wait()
	return count.Load()
}

// openat opens name in dirfd for reading, without following a symlink and
// without updating its access time where the kernel lets us.
func openat(dirfd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM {
		fd, err = unix.Openat(dirfd, name, flags, 0)
	}
	return fd, err
}
