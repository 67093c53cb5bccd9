// Command pwnedgen writes a synthetic file in the format of HIBP's official
// downloader (pwnedpasswords.txt): -n random SHA-1 hashes, sorted, one
// "HASH:COUNT" line each, with heavy-tailed counts (most 1 or 2, a few in
// the millions, as in the real corpus). The same -n and -seed always give
// the same file. bench/breach.sh uses it; the files are large and are
// never committed.
//
// Usage:
//
//	go run ./cmd/pwnedgen -n 1M [-out /tmp/pwnedbench/pwned-1M.txt] [-seed 1] [-lf]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const buckets = 1 << 20

func main() {
	nFlag := flag.String("n", "", "number of hashes: 1000000, 1M, 100M, …")
	out := flag.String("out", "", "output file (default /tmp/pwnedbench/pwned-N.txt)")
	seed := flag.Uint64("seed", 1, "random seed")
	lf := flag.Bool("lf", false, "end lines with LF (default CRLF, as HIBP sends them)")
	flag.Parse()
	n, err := parseCount(*nFlag)
	if err != nil || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "pwnedgen: -n is required: a positive count such as 1000000, 1M or 100M")
		flag.Usage()
		os.Exit(2)
	}
	if *out == "" {
		*out = filepath.Join(os.TempDir(), "pwnedbench", "pwned-"+*nFlag+".txt")
	}
	start := time.Now()
	size, err := generate(*out, n, *seed, !*lf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pwnedgen:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d hashes, %d bytes, in %s\n", *out, n, size, time.Since(start).Round(time.Millisecond))
}

// parseCount reads 1000000, 1M, 1k, 2G.
func parseCount(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1e9, s[:len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad count %q", s)
	}
	return v * mult, nil
}

// key is the 140 bits (35 hex digits) of a hash after its 20-bit prefix:
// 64 + 64 + 12.
type key struct {
	hi, mid uint64
	lo      uint16 // 12 bits
}

func cmpKey(a, b key) int {
	switch {
	case a.hi != b.hi:
		return cmpU(a.hi, b.hi)
	case a.mid != b.mid:
		return cmpU(a.mid, b.mid)
	}
	return cmpU(uint64(a.lo), uint64(b.lo))
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// generate writes the file: bucket sizes first (a multinomial draw), then
// each bucket's suffixes, drawn, sorted and written in prefix order. Memory
// stays at one bucket.
func generate(path string, n int64, seed uint64, crlf bool) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	sizes := make([]uint32, buckets)
	for range n {
		sizes[rng.Uint32()&(buckets-1)]++
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	const hexd = "0123456789ABCDEF"
	var keys []key
	line := make([]byte, 0, 80)
	var written int64
	for p := range uint32(buckets) {
		keys = keys[:0]
		for range sizes[p] {
			keys = append(keys, key{rng.Uint64(), rng.Uint64(), uint16(rng.Uint32() & 0xfff)})
		}
		slices.SortFunc(keys, cmpKey)
		for i, k := range keys {
			if i > 0 && cmpKey(keys[i-1], k) == 0 {
				return 0, fmt.Errorf("duplicate hash drawn; use another -seed")
			}
			line = line[:0]
			for s := 16; s >= 0; s -= 4 {
				line = append(line, hexd[p>>uint(s)&15])
			}
			for s := 60; s >= 0; s -= 4 {
				line = append(line, hexd[k.hi>>uint(s)&15])
			}
			for s := 60; s >= 0; s -= 4 {
				line = append(line, hexd[k.mid>>uint(s)&15])
			}
			for s := 8; s >= 0; s -= 4 {
				line = append(line, hexd[k.lo>>uint(s)&15])
			}
			line = append(line, ':')
			line = strconv.AppendInt(line, count(rng), 10)
			if crlf {
				line = append(line, '\r')
			}
			line = append(line, '\n')
			nw, err := w.Write(line)
			written += int64(nw)
			if err != nil {
				return written, err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return written, err
	}
	return written, f.Close()
}

// count draws a breach count from a Pareto tail (P(count ≥ x) ≈ x^-1.11):
// mostly 1 and 2, a mean near 10, and a few hashes in the millions.
func count(rng *rand.Rand) int64 {
	u := 1 - rng.Float64() // (0, 1]
	c := math.Floor(math.Pow(u, -0.9))
	if c > 1e12 {
		c = 1e12
	}
	return int64(c)
}
