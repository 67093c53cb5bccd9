// Command fimbench measures propsec's file integrity monitor for
// bench/integrity.sh: a baseline (-mode init) or a scan (-mode scan) of -root
// through the Go API on a SQLite store, or the raw hashing floor (-mode
// floor): every regular file read and BLAKE3-hashed by as many workers as
// the monitor uses, nothing stored, read the cheapest way (see floor).
// -store memory runs init or scan on memstore instead (a scan then first
// records the baseline, untimed), to tell the store's share; -cpuprofile
// writes a CPU profile of the timed part. It prints one line:
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
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/sqlitestore"
)

func main() {
	mode := flag.String("mode", "scan", "init, scan or floor")
	root := flag.String("root", "", "directory to baseline, scan or hash")
	db := flag.String("db", "fim.db", "SQLite file (init and scan)")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "files read at once")
	store := flag.String("store", "sqlite", "sqlite (the -db file) or memory (init and scan)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed part to this file")
	flag.Parse()
	if *root == "" {
		log.Fatal("-root is required")
	}
	ctx := context.Background()
	start := time.Now()
	var files, violations int64
	switch *mode {
	case "floor":
		stop := profile(*cpuprofile)
		files = floor(*root, *workers)
		stop()
	case "init", "scan":
		var st integrity.Store
		switch *store {
		case "sqlite":
			sq, err := sqlitestore.Open(ctx, *db)
			if err != nil {
				log.Fatal(err)
			}
			defer sq.Close()
			st = sq
		case "memory":
			st = memstore.New()
		default:
			log.Fatalf("unknown -store %q", *store)
		}
		mon, err := integrity.New(integrity.Config{Store: st, Key: []byte("fimbench key, 32 bytes or more.."),
			Roots: []string{*root}, Workers: *workers})
		if err != nil {
			log.Fatal(err)
		}
		defer mon.Close()
		if *store == "memory" && *mode == "scan" {
			if _, err := mon.Init(ctx); err != nil {
				log.Fatal(err)
			}
		}
		defer profile(*cpuprofile)()
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

// profile starts a CPU profile into path, when not "", and returns what
// stops it.
func profile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
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
