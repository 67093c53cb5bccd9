package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite"

	"github.com/propops/propsec/breach"
)

// TestBreachSideBySide compares, in one run, three ways to answer "how many
// times was this SHA-1 seen?" over the same downloader file:
//
//  1. propsec's corpus (breach.Import, then breach.Checker.CheckSHA1);
//  2. a binary search over the downloader's sorted text file, with pread
//     (what a quick script does);
//  3. SQLite (modernc.org/sqlite) with the hash as the primary key, a
//     20-byte BLOB in a WITHOUT ROWID table (what a user would otherwise
//     build, done well).
//
// For each it reports import MB/s of text, bytes on disk per hash, warm
// lookups/s (2 goroutines, GOMAXPROCS 2) and cold p50/p99 latency with the
// bytes read from storage per cold lookup. Cold means the OS page cache
// holds none of the system's file (posix_fadvise DONTNEED before every
// sample, after a drop_caches at the start when permitted); in-process
// state made at open is kept (propsec's 8 MiB index, SQLite's schema).
//
// It runs only when BREACH_TXT names the text file (bench/breach.sh makes
// one):
//
//	BREACH_TXT=/tmp/pwnedbench/pwned-1M.txt go test -run BreachSideBySide -v -timeout 0 .
//
// Other settings: BREACH_DIR (where the corpus and the database go; default
// beside the text), BREACH_COLD (cold samples, default 300), BREACH_WARM
// (seconds of warm lookups per system, default 5), BREACH_SYSTEMS (default
// "propsec,text,sqlite"), BREACH_REUSE=1 (keep an existing corpus and
// database instead of importing again).
func TestBreachSideBySide(t *testing.T) {
	txt := os.Getenv("BREACH_TXT")
	if txt == "" {
		t.Skip("set BREACH_TXT to a downloader-format file (bench/breach.sh)")
	}
	dir := envOr("BREACH_DIR", filepath.Dir(txt))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	coldN, _ := strconv.Atoi(envOr("BREACH_COLD", "300"))
	warmSecs, _ := strconv.ParseFloat(envOr("BREACH_WARM", "5"), 64)
	reuse := os.Getenv("BREACH_REUSE") == "1"
	runtime.GOMAXPROCS(2)
	ctx := context.Background()

	st, err := os.Stat(txt)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]breachSystem{
		"propsec": &propsecSys{path: filepath.Join(dir, "pwned.bin")},
		"text":    &textSys{path: txt},
		"sqlite":  &sqliteSys{path: filepath.Join(dir, "pwned.db")},
	}
	var systems []breachSystem
	for _, name := range strings.Split(envOr("BREACH_SYSTEMS", "propsec,text,sqlite"), ",") {
		s, ok := all[name]
		if !ok {
			t.Fatalf("unknown system %q", name)
		}
		systems = append(systems, s)
	}

	fmt.Printf("text: %s, %d bytes; %d cold samples, %.0f s warm per system; GOMAXPROCS %d, NumCPU %d\n",
		txt, st.Size(), coldN, warmSecs, runtime.GOMAXPROCS(0), runtime.NumCPU())
	res := map[string]*breachResult{}
	var n int64
	for _, s := range systems {
		r := &breachResult{}
		res[s.name()] = r
		if err := fadviseDrop(txt); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		hashes, err := s.build(ctx, txt, reuse)
		if err != nil {
			t.Fatalf("%s: build: %v", s.name(), err)
		}
		if el := time.Since(start); hashes > 0 {
			r.importMBs = float64(st.Size()) / 1e6 / el.Seconds()
			n = hashes
			fmt.Printf("%s: imported %d hashes in %s\n", s.name(), hashes, el.Round(time.Millisecond))
		}
		for _, f := range s.files() {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			r.bytes += fi.Size()
		}
		start = time.Now()
		if err := s.open(); err != nil {
			t.Fatalf("%s: open: %v", s.name(), err)
		}
		r.open = time.Since(start)
		defer s.close()
	}
	if n == 0 {
		n = countLines(t, txt)
	}

	queries, want := sampleQueries(t, txt, st.Size(), 100_000)
	for _, s := range systems {
		for i := range 2000 {
			got, err := s.lookup(ctx, queries[i])
			if err != nil || got != want[i] {
				t.Fatalf("%s: %s = %d, %v; want %d", s.name(), queries[i], got, err, want[i])
			}
		}
	}

	// Warm: every query once, then two goroutines for warmSecs.
	for _, s := range systems {
		for _, q := range queries {
			if _, err := s.lookup(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		r := res[s.name()]
		r.warm, r.warmCPU = warmRate(ctx, t, s, queries, time.Duration(warmSecs*float64(time.Second)))
		fmt.Printf("%s: %.0f lookups/s warm, %.0f per CPU-second\n", s.name(), r.warm, r.warmCPU)
	}

	// Cold.
	if f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0); err == nil {
		syscall.Sync()
		_, err = f.WriteString("3\n")
		f.Close()
		fmt.Printf("drop_caches: %v\n", errOr(err, "done"))
	} else {
		fmt.Printf("drop_caches not permitted (%v); posix_fadvise DONTNEED only\n", err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := -3; i < coldN; i++ { // 3 rounds unrecorded: drop_caches also evicted this program's code
		q := queries[rng.IntN(len(queries))]
		for _, s := range systems {
			if err := s.evict(); err != nil {
				t.Fatalf("%s: evict: %v", s.name(), err)
			}
			io0, flt0 := readBytes(t), majorFaults()
			start := time.Now()
			if _, err := s.lookup(ctx, q); err != nil {
				t.Fatal(err)
			}
			el := time.Since(start)
			if i < 0 {
				continue
			}
			r := res[s.name()]
			r.cold = append(r.cold, el)
			r.coldBytes += readBytes(t) - io0
			r.coldFaults += majorFaults() - flt0
		}
		if i%50 == 49 {
			fmt.Printf("cold: %d/%d samples\n", i+1, coldN)
		}
	}

	fmt.Printf("\nN = %d hashes, text %.1f MB\n\n", n, float64(st.Size())/1e6)
	fmt.Println("| system | import MB/s (text) | bytes on disk / hash | open | warm lookups/s, 2 goroutines | warm lookups per CPU-second | cold p50 | cold p99 | KiB read / cold lookup | major faults / cold lookup |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range systems {
		r := res[s.name()]
		slices.Sort(r.cold)
		imp := "— (none)"
		if r.importMBs > 0 {
			imp = fmt.Sprintf("%.0f", r.importMBs)
		}
		fmt.Printf("| %s | %s | %.2f | %s | %s | %s | %s | %s | %.1f | %.2f |\n", s.name(), imp,
			float64(r.bytes)/float64(n), r.open.Round(10*time.Microsecond), thousands(r.warm), thousands(r.warmCPU),
			pct(r.cold, 0.50), pct(r.cold, 0.99),
			float64(r.coldBytes)/1024/float64(len(r.cold)), float64(r.coldFaults)/float64(len(r.cold)))
	}
}

// BenchmarkBreachWarm measures warm lookups on the corpus that
// TestBreachSideBySide left in BREACH_DIR (queries as there: half present,
// half absent), one goroutine per -cpu, through breach.Checker.CheckSHA1:
//
//	BREACH_TXT=/tmp/pwnedbench/pwned-100M.txt BREACH_DIR=/tmp/pwnedbench/100M \
//	    go test -run '^$' -bench BreachWarm -cpu 1,2 -count 6 .
func BenchmarkBreachWarm(b *testing.B) {
	txt := os.Getenv("BREACH_TXT")
	if txt == "" {
		b.Skip("set BREACH_TXT and BREACH_DIR (bench/breach.sh)")
	}
	st, err := os.Stat(txt)
	if err != nil {
		b.Fatal(err)
	}
	c, err := breach.OpenCorpus(filepath.Join(envOr("BREACH_DIR", filepath.Dir(txt)), "pwned.bin"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	chk, _ := breach.New(breach.Config{Source: c})
	qs, want := sampleQueries(b, txt, st.Size(), 100_000)
	ctx := context.Background()
	for i, q := range qs {
		if r, err := chk.CheckSHA1(ctx, q); err != nil || r.Count != want[i] {
			b.Fatalf("%s: %+v %v, want %d", q, r, err, want[i])
		}
	}
	var next atomic.Int64
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(int64(len(qs) / 4)))
		for pb.Next() {
			chk.CheckSHA1(ctx, qs[i%len(qs)])
			i++
		}
	})
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	b.ReportMetric(float64(cpuTime(ru1)-cpuTime(ru0))/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(ru1.Minflt-ru0.Minflt)/float64(b.N), "minflt/op")
}

// cpuTime is the user and system CPU time in ru.
func cpuTime(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type breachResult struct {
	importMBs             float64
	bytes                 int64
	open                  time.Duration
	warm, warmCPU         float64
	cold                  []time.Duration
	coldBytes, coldFaults int64
}

// breachSystem is one way of looking hashes up.
type breachSystem interface {
	name() string
	// build imports the text (unless reuse and done) and returns the
	// number of hashes, or 0 when it has no import.
	build(ctx context.Context, txt string, reuse bool) (int64, error)
	files() []string
	open() error
	lookup(ctx context.Context, hash string) (int64, error)
	// evict leaves the system as just opened, with none of its files in
	// the page cache.
	evict() error
	close()
}

// --- propsec ---

type propsecSys struct {
	path   string
	corpus *breach.Corpus
	chk    *breach.Checker
}

func (s *propsecSys) name() string    { return "propsec corpus" }
func (s *propsecSys) files() []string { return []string{s.path} }

func (s *propsecSys) build(ctx context.Context, txt string, reuse bool) (int64, error) {
	if reuse {
		if c, err := breach.OpenCorpus(s.path); err == nil {
			return 0, c.Close()
		}
	}
	p, err := breach.Import(ctx, s.path, txt, breach.ImportOptions{})
	return p.Hashes, err
}

func (s *propsecSys) open() error {
	c, err := breach.OpenCorpus(s.path)
	if err != nil {
		return err
	}
	s.corpus = c
	s.chk, err = breach.New(breach.Config{Source: c})
	return err
}

func (s *propsecSys) lookup(ctx context.Context, h string) (int64, error) {
	r, err := s.chk.CheckSHA1(ctx, h)
	return r.Count, err
}

func (s *propsecSys) evict() error {
	s.close()
	// The mapping goes when the garbage collector finds it unreachable;
	// wait for that, or DONTNEED cannot drop mapped pages.
	for i := 0; mapped(s.path); i++ {
		runtime.GC()
		if i > 1000 {
			return errors.New("the corpus stays mapped after Close")
		}
		time.Sleep(time.Millisecond)
	}
	if err := fadviseDrop(s.path); err != nil {
		return err
	}
	if err := s.open(); err != nil { // reads the header and the index
		return err
	}
	return fadviseDrop(s.path)
}

func (s *propsecSys) close() {
	if s.corpus != nil {
		s.corpus.Close()
		s.corpus = nil
	}
}

// mapped reports whether path is mapped into this process.
func mapped(path string) bool {
	b, _ := os.ReadFile("/proc/self/maps")
	return bytes.Contains(b, []byte(path))
}

// --- binary search over the text file ---

type textSys struct {
	path string
	f    *os.File
	size int64
	pool sync.Pool
}

func (s *textSys) name() string                                       { return "text binary search" }
func (s *textSys) files() []string                                    { return []string{s.path} }
func (s *textSys) build(context.Context, string, bool) (int64, error) { return 0, nil }

func (s *textSys) open() error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	s.f, s.size = f, st.Size()
	s.pool.New = func() any { return new([256]byte) }
	return nil
}

// lookup is the binary search a script would write: probe the middle byte
// offset, skip to the next line, compare, halve.
func (s *textSys) lookup(_ context.Context, h string) (int64, error) {
	key := []byte(strings.ToUpper(h))
	buf := s.pool.Get().(*[256]byte)
	defer s.pool.Put(buf)
	lo, hi := int64(0), s.size // lo is always the start of a line
	for lo < hi {
		mid := lo + (hi-lo)/2
		at := max(mid-1, 0)
		n, err := s.f.ReadAt(buf[:], at)
		if err != nil && n == 0 {
			return 0, err
		}
		b := buf[:n]
		start := int64(0)
		if mid > 0 {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return 0, fmt.Errorf("no line break near offset %d", at)
			}
			start = int64(i) + 1
		}
		lineStart := at + start
		if lineStart >= hi {
			hi = mid
			continue
		}
		line := b[start:]
		end := bytes.IndexByte(line, '\n')
		if end < 0 {
			end = len(line)
		}
		line = bytes.TrimSuffix(line[:end], []byte{'\r'})
		hash, count, _ := bytes.Cut(line, []byte{':'})
		switch bytes.Compare(hash, key) {
		case 0:
			return strconv.ParseInt(string(count), 10, 64)
		case -1:
			lo = lineStart + int64(end) + 1
		default:
			hi = mid
		}
	}
	return 0, nil
}

func (s *textSys) evict() error { return fadviseDrop(s.path) }
func (s *textSys) close()       { s.f.Close() }

// --- SQLite ---

type sqliteSys struct {
	path string
	db   *sql.DB
	stmt *sql.Stmt
}

func (s *sqliteSys) name() string    { return "SQLite (BLOB primary key)" }
func (s *sqliteSys) files() []string { return []string{s.path} }

func (s *sqliteSys) build(ctx context.Context, txt string, reuse bool) (int64, error) {
	if _, err := os.Stat(s.path); reuse && err == nil {
		return 0, nil
	}
	os.Remove(s.path)
	db, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE pwned (hash BLOB PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID`); err != nil {
		return 0, err
	}
	f, err := os.Open(txt)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(bufio.NewReaderSize(f, 1<<20))
	var n int64
	var tx *sql.Tx
	var ins *sql.Stmt
	hash := make([]byte, 20)
	for sc.Scan() {
		if n%100_000 == 0 {
			if tx != nil {
				if err := tx.Commit(); err != nil {
					return 0, err
				}
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return 0, err
			}
			if ins, err = tx.PrepareContext(ctx, `INSERT INTO pwned (hash, count) VALUES (?, ?)`); err != nil {
				return 0, err
			}
		}
		line := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		h, c, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(h) != 40 {
			return 0, fmt.Errorf("line %d: malformed", n+1)
		}
		if _, err := hex.Decode(hash, h); err != nil {
			return 0, err
		}
		count, err := strconv.ParseInt(string(c), 10, 64)
		if err != nil {
			return 0, err
		}
		if _, err := ins.ExecContext(ctx, hash, count); err != nil {
			return 0, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, db.Close()
}

func (s *sqliteSys) open() error {
	db, err := sql.Open("sqlite", "file:"+s.path+"?mode=ro")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	stmt, err := db.Prepare(`SELECT count FROM pwned WHERE hash = ?`)
	if err != nil {
		db.Close()
		return err
	}
	s.db, s.stmt = db, stmt
	return nil
}

func (s *sqliteSys) lookup(ctx context.Context, h string) (int64, error) {
	var b [20]byte
	if _, err := hex.Decode(b[:], []byte(h)); err != nil {
		return 0, err
	}
	var c int64
	err := s.stmt.QueryRowContext(ctx, b[:]).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return c, err
}

func (s *sqliteSys) evict() error {
	s.close()
	if err := fadviseDrop(s.path); err != nil {
		return err
	}
	if err := s.open(); err != nil { // reads the schema
		return err
	}
	return fadviseDrop(s.path)
}

func (s *sqliteSys) close() {
	if s.db != nil {
		s.stmt.Close()
		s.db.Close()
		s.db = nil
	}
}

// --- helpers ---

// sampleQueries returns n hashes, half present in the text (from random
// offsets) and half random, with their expected counts.
func sampleQueries(t testing.TB, txt string, size int64, n int) ([]string, []int64) {
	f, err := os.Open(txt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	qs, want := make([]string, 0, n), make([]int64, 0, n)
	buf := make([]byte, 200)
	for len(qs) < n {
		if len(qs)%2 == 1 {
			var b [20]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			qs, want = append(qs, strings.ToUpper(hex.EncodeToString(b[:]))), append(want, 0)
			continue
		}
		k, _ := f.ReadAt(buf, rng.Int64N(max(size-120, 1)))
		b := buf[:k]
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			continue
		}
		line := b[i+1:]
		j := bytes.IndexByte(line, '\n')
		if j < 0 {
			continue
		}
		h, c, _ := bytes.Cut(bytes.TrimSuffix(line[:j], []byte{'\r'}), []byte{':'})
		cnt, err := strconv.ParseInt(string(c), 10, 64)
		if err != nil || len(h) != 40 {
			t.Fatalf("sampling: bad line %q", line[:j])
		}
		qs, want = append(qs, string(h)), append(want, cnt)
	}
	return qs, want
}

// warmRate runs lookups in two goroutines for d and returns lookups per
// second of wall-clock time, and per second of this process's CPU time
// (which other work on a shared machine does not distort).
func warmRate(ctx context.Context, t *testing.T, s breachSystem, qs []string, d time.Duration) (wall, perCPU float64) {
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	var stop atomic.Bool
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := range 2 {
		wg.Go(func() {
			i, n := g*len(qs)/2, int64(0)
			for !stop.Load() {
				for range 256 {
					if _, err := s.lookup(ctx, qs[i%len(qs)]); err != nil {
						t.Error(err)
						stop.Store(true)
						return
					}
					i++
					n++
				}
			}
			total.Add(n)
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	el := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	n := float64(total.Load())
	return n / el.Seconds(), n / (cpuTime(ru1) - cpuTime(ru0)).Seconds()
}

func fadviseDrop(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// readBytes is this process's read_bytes from /proc/self/io: bytes it
// caused to be read from storage.
func readBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "read_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no read_bytes in /proc/self/io")
	return 0
}

func majorFaults() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Majflt
}

func countLines(t *testing.T, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			return n
		}
	}
}

func pct(d []time.Duration, p float64) string {
	if len(d) == 0 {
		return "—"
	}
	v := d[min(int(float64(len(d))*p), len(d)-1)]
	if v < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(v)/1e3)
	}
	return fmt.Sprintf("%.2f ms", float64(v)/1e6)
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func errOr(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}
