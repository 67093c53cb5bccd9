// Command rtbench measures propsec's real-time file integrity detection
// (integrity.Config.Realtime) for bench/realtime.sh, on a SQLite store:
//
//   - -mode latency: a tree of -dirs directories of -files files each is
//     baselined, Run watches it, then -changes distinct files are rewritten
//     (one every -gap; 0: as fast as possible). For each, the latency from
//     the return of close(2) to the return of the store's SaveFindings that
//     stored its alert; p50, p99 and max. Then the process's CPU time over
//     -idle seconds of idleness (getrusage).
//   - -mode dirs: a tree of -dirs empty directories (in directories of
//     1,000) is baselined and watched: the time to add every watch, the Go
//     heap it takes per directory (after GC), and the time of the first
//     full scan that follows.
//
// It prints key=value lines.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/sqlitestore"
)

// timedStore notes when each alert's save returned.
type timedStore struct {
	integrity.Store
	mu    sync.Mutex
	saved map[string]time.Time
}

func (s *timedStore) SaveFindings(ctx context.Context, f integrity.Findings) ([]int64, error) {
	ids, err := s.Store.SaveFindings(ctx, f)
	now := time.Now()
	s.mu.Lock()
	for _, a := range f.Alerts {
		if _, ok := s.saved[a.FilePath]; !ok {
			s.saved[a.FilePath] = now
		}
	}
	s.mu.Unlock()
	return ids, err
}

func main() {
	mode := flag.String("mode", "latency", "latency or dirs")
	dirs := flag.Int("dirs", 100, "directories")
	files := flag.Int("files", 100, "files per directory (latency)")
	changes := flag.Int("changes", 1000, "files rewritten (latency)")
	gap := flag.Duration("gap", 10*time.Millisecond, "time between two rewrites (latency; 0: none)")
	idle := flag.Duration("idle", 10*time.Second, "idle time measured (latency)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the changes and their re-checks (latency)")
	flag.Parse()
	work, err := os.MkdirTemp("", "rtbench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	switch *mode {
	case "latency":
		makeTree(root, *dirs, *files)
	case "dirs":
		makeDirs(root, *dirs)
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	ctx := context.Background()
	sq, err := sqlitestore.Open(ctx, filepath.Join(work, "rt.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer sq.Close()
	st := &timedStore{Store: sq, saved: map[string]time.Time{}}
	mon, err := integrity.New(integrity.Config{Store: st, Key: []byte("rtbench key, 32 bytes or more..."),
		Roots: []string{root}, Realtime: true})
	if err != nil {
		log.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Init(ctx); err != nil {
		log.Fatal(err)
	}
	heap0 := heap()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- mon.Run(runCtx, time.Hour) }()
	waitFor(func() bool { return mon.Realtime().Watching })
	setup := time.Since(start)
	waitFor(func() bool { return mon.Realtime().FullScans >= 1 })
	firstScan := time.Since(start) - setup
	s := mon.Realtime()
	fmt.Printf("max_user_watches=%s\n", readTrim("/proc/sys/fs/inotify/max_user_watches"))
	fmt.Printf("directories_watched=%d watch_setup_seconds=%.3f first_full_scan_seconds=%.3f\n",
		s.Directories, setup.Seconds(), firstScan.Seconds())
	heap1 := heap()
	fmt.Printf("heap_bytes_per_watched_directory=%.0f\n", float64(heap1-heap0)/float64(s.Directories))

	if *mode == "latency" {
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				log.Fatal(err)
			}
			pprof.StartCPUProfile(f)
		}
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		latency(mon, st, root, *dirs, *files, *changes, *gap)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		pprof.StopCPUProfile()
		fmt.Printf("cpu_ms_per_change=%.3f\n", float64(cpuNanos(&r1)-cpuNanos(&r0))/1e6/float64(*changes))
		var before, after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		time.Sleep(*idle)
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		cpu := time.Duration(cpuNanos(&after) - cpuNanos(&before))
		fmt.Printf("idle_seconds=%.0f idle_cpu_ms=%.3f\n", idle.Seconds(), float64(cpu.Microseconds())/1000)
	}
	cancel()
	<-done
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("maxrss_mib=%.1f\n", float64(ru.Maxrss)/1024)
}

func latency(mon *integrity.Monitor, st *timedStore, root string, dirs, files, changes int, gap time.Duration) {
	closed := make(map[string]time.Time, changes)
	order := make([]string, 0, changes)
	began := time.Now()
	for i := range changes {
		// Distinct files spread over the tree.
		n := (i * 7919) % (dirs * files)
		p := filepath.Join(root, fmt.Sprintf("d%03d", n/files), fmt.Sprintf("f%04d.txt", n%files))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := fmt.Fprintf(f, "changed %d\n", i); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		closed[p] = time.Now()
		order = append(order, p)
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	written := time.Since(began)
	deadline := time.Now().Add(2 * time.Minute)
	var lat []time.Duration
	for {
		lat = lat[:0]
		st.mu.Lock()
		for _, p := range order {
			if at, ok := st.saved[p]; ok {
				lat = append(lat, at.Sub(closed[p]))
			}
		}
		st.mu.Unlock()
		if len(lat) == len(order) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	s := mon.Realtime()
	fmt.Printf("changes=%d gap=%s written_in_ms=%.0f alerts=%d rechecks=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
		changes, gap, ms(written), len(lat), s.Rechecks, ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]))
}

func cpuNanos(r *syscall.Rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func waitFor(cond func() bool) {
	deadline := time.Now().Add(10 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			log.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func makeTree(root string, dirs, files int) {
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
		for f := range files {
			p := filepath.Join(dir, fmt.Sprintf("f%04d.txt", f))
			if err := os.WriteFile(p, []byte("original\n"), 0o644); err != nil {
				log.Fatal(err)
			}
		}
	}
}

func makeDirs(root string, n int) {
	for i := range n {
		if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf("g%03d", i/1000), fmt.Sprintf("d%03d", i%1000)), 0o755); err != nil {
			log.Fatal(err)
		}
	}
}
