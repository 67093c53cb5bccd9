package breach_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/security"
)

type hashCount struct {
	hash  string // uppercase hex
	count int64
}

// corpusText returns n random hashes of kind, sorted, with counts (some of
// them too large for a record), and their downloader text.
func corpusText(n int, kind breach.HashKind, seed uint64) ([]hashCount, string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	seen := map[string]bool{}
	var hs []hashCount
	for len(hs) < n {
		b := make([]byte, kind.HexLen()/2)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		h := fmt.Sprintf("%X", b)
		if seen[h] {
			continue
		}
		seen[h] = true
		c := int64(1 + rng.IntN(5))
		switch rng.IntN(20) {
		case 0:
			c = 1048574 + rng.Int64N(3) // around the inline limit
		case 1:
			c = rng.Int64N(1 << 40)
		}
		hs = append(hs, hashCount{h, max(c, 1)})
	}
	slices.SortFunc(hs, func(a, b hashCount) int { return strings.Compare(a.hash, b.hash) })
	var sb strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&sb, "%s:%d\r\n", h.hash, h.count)
	}
	return hs, sb.String()
}

func importText(t testing.TB, text string, opts breach.ImportOptions) (*breach.Corpus, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pwned.bin")
	if _, err := breach.ImportReader(context.Background(), path, strings.NewReader(text), opts); err != nil {
		t.Fatal(err)
	}
	c, err := breach.OpenCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

func TestCorpusRoundTrip(t *testing.T) {
	for _, kind := range []breach.HashKind{breach.SHA1, breach.NTLM} {
		t.Run(kind.String(), func(t *testing.T) {
			ctx := context.Background()
			hs, text := corpusText(3000, kind, 1)
			c, _ := importText(t, text, breach.ImportOptions{Kind: kind})
			if c.Kind() != kind || c.Len() != int64(len(hs)) {
				t.Fatalf("kind %s len %d", c.Kind(), c.Len())
			}
			if err := c.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			chk, err := breach.New(breach.Config{Source: c})
			if err != nil {
				t.Fatal(err)
			}
			byPrefix := map[string][]breach.Entry{}
			for _, h := range hs {
				p := h.hash[:5]
				byPrefix[p] = append(byPrefix[p], breach.Entry{Suffix: h.hash[5:], Count: h.count})
				res, err := chk.CheckHash(ctx, strings.ToLower(h.hash))
				if err != nil || !res.Breached || res.Count != h.count {
					t.Fatalf("CheckHash(%s) = %+v, %v; want count %d", h.hash, res, err, h.count)
				}
			}
			for p, want := range byPrefix {
				r, err := c.Range(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(r.Entries()) != fmt.Sprint(want) {
					t.Fatalf("range %s = %v\nwant %v", p, r.Entries(), want)
				}
			}
			// Absent hashes, including neighbours of present ones.
			for _, h := range hs[:200] {
				b := []byte(h.hash)
				b[len(b)-1] = "0123456789ABCDEF"[(strings.IndexByte("0123456789ABCDEF", b[len(b)-1])+1)%16]
				if slices.ContainsFunc(hs, func(x hashCount) bool { return x.hash == string(b) }) {
					continue
				}
				res, err := chk.CheckHash(ctx, string(b))
				if err != nil || res.Breached || res.Count != 0 {
					t.Fatalf("CheckHash(%s) = %+v, %v; want not breached", b, res, err)
				}
			}
			// An empty range.
			empty := "FFFFF"
			if kind == breach.NTLM {
				empty = "00000"
			}
			if _, ok := byPrefix[empty]; !ok {
				r, err := c.Range(ctx, strings.ToLower(empty))
				if err != nil || r.Len() != 0 || r.Prefix() != empty {
					t.Fatalf("empty range: %v %v", r, err)
				}
			}
		})
	}
}

func TestCorpusRangeBadPrefix(t *testing.T) {
	_, text := corpusText(10, breach.SHA1, 2)
	c, _ := importText(t, text, breach.ImportOptions{})
	for _, p := range []string{"", "0000", "000000", "0000G"} {
		if _, err := c.Range(context.Background(), p); !errors.Is(err, security.ErrInvalid) {
			t.Errorf("Range(%q) err = %v", p, err)
		}
	}
}

func TestCorpusClosed(t *testing.T) {
	hs, text := corpusText(10, breach.SHA1, 3)
	c, _ := importText(t, text, breach.ImportOptions{})
	chk, _ := breach.New(breach.Config{Source: c})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := chk.CheckSHA1(context.Background(), hs[0].hash)
	if !errors.Is(err, breach.ErrSourceUnavailable) {
		t.Fatalf("check after Close: %v", err)
	}
	if _, err := c.Range(context.Background(), "00000"); err == nil {
		t.Fatal("Range after Close succeeded")
	}
}

func TestImportErrors(t *testing.T) {
	const (
		h1 = "000000005AD76BD555C1D6D771DE417A4B87E4B4"
		h2 = "00000000A8DAE4228F821FB418F59826079BF368"
		h3 = "00001000A8DAE4228F821FB418F59826079BF368"
	)
	tests := []struct {
		name, text string
		err        string // "" for success
		hashes     int64
	}{
		{name: "crlf", text: h1 + ":4\r\n" + h2 + ":2\r\n", hashes: 2},
		{name: "lf no final newline", text: h1 + ":4\n" + h2 + ":2", hashes: 2},
		{name: "lowercase", text: strings.ToLower(h1) + ":4\n" + h2 + ":2\n", hashes: 2},
		{name: "padding dropped", text: h1 + ":0\n" + h2 + ":2\n", hashes: 1},
		{name: "unsorted", text: h2 + ":1\n" + h1 + ":1\n", err: "line 2: not sorted"},
		{name: "unsorted prefix", text: h3 + ":1\n" + h1 + ":1\n", err: "line 2: not sorted: range 00000 after 00001"},
		{name: "repeated", text: h1 + ":1\n" + h2 + ":1\n" + h2 + ":3\n", err: "line 3: hash repeated"},
		{name: "empty line", text: h1 + ":1\n\n" + h2 + ":1\n", err: "line 2: empty line"},
		{name: "short hash", text: h1 + ":1\n" + h2[1:] + ":1\n", err: "line 2: not HASH:COUNT"},
		{name: "non-hex prefix", text: "X" + h1[1:] + ":1\n", err: "line 1: not HASH:COUNT"},
		{name: "non-hex suffix", text: h1[:39] + "X:1\n", err: "line 1: hash is not hexadecimal"},
		{name: "bad count", text: h1 + ":1x\n", err: "line 1: count is not"},
		{name: "no count", text: h1 + "\n", err: "line 1: not HASH:COUNT"},
		{name: "suffix only", text: h1[5:] + ":1\n", err: "line 1: not HASH:COUNT"},
		{name: "long line", text: h1 + ":1\n" + strings.Repeat("A", 5<<20), err: "line 2: line too long"},
		{name: "empty", text: "", err: "no hashes"},
		{name: "only padding", text: h1 + ":0\n", err: "no hashes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "pwned.bin")
			os.WriteFile(out, []byte("old"), 0o644)
			var last breach.ImportProgress
			prog, err := breach.ImportReader(context.Background(), out, strings.NewReader(tt.text),
				breach.ImportOptions{Progress: func(p breach.ImportProgress) { last = p }})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if !errors.Is(err, security.ErrInvalid) {
					t.Fatalf("err %v does not wrap ErrInvalid", err)
				}
				if b, _ := os.ReadFile(out); string(b) != "old" {
					t.Fatal("a failed import replaced the output")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if prog.Hashes != tt.hashes || !last.Done || last.Hashes != tt.hashes {
					t.Fatalf("progress %+v, last report %+v", prog, last)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("left behind: %v", ents)
			}
		})
	}
}

func TestImportFileAndDir(t *testing.T) {
	ctx := context.Background()
	hs, text := corpusText(500, breach.SHA1, 4)
	dir := t.TempDir()
	txt := filepath.Join(dir, "pwnedpasswords.txt")
	os.WriteFile(txt, []byte(text), 0o644)

	var reports []breach.ImportProgress
	prog, err := breach.Import(ctx, filepath.Join(dir, "a.bin"), txt,
		breach.ImportOptions{Progress: func(p breach.ImportProgress) { reports = append(reports, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if prog.TotalBytes != int64(len(text)) || prog.BytesRead != prog.TotalBytes || prog.Lines != 500 || prog.Hashes != 500 {
		t.Fatalf("progress %+v", prog)
	}
	if len(reports) == 0 || !reports[len(reports)-1].Done {
		t.Fatalf("reports %+v", reports)
	}

	// The same hashes as a per-prefix directory: suffixes, LF, lowercase
	// names for some.
	ranges := filepath.Join(dir, "hashes")
	os.Mkdir(ranges, 0o755)
	files := map[string]*bytes.Buffer{}
	for _, h := range hs {
		name := h.hash[:5] + ".txt"
		if files[name] == nil {
			files[name] = &bytes.Buffer{}
		}
		fmt.Fprintf(files[name], "%s:%d\n", h.hash[5:], h.count)
	}
	for name, b := range files {
		if name[0] == 'A' {
			name = strings.ToLower(name[:5]) + ".txt"
		}
		os.WriteFile(filepath.Join(ranges, name), bytes.TrimSuffix(b.Bytes(), []byte("\n")), 0o644)
	}
	os.WriteFile(filepath.Join(ranges, "README.md"), []byte("not a range"), 0o644)

	_, err = breach.Import(ctx, filepath.Join(dir, "b.bin"), ranges, breach.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "range file 00000.txt is missing") {
		t.Fatalf("partial directory: %v", err)
	}
	prog, err = breach.Import(ctx, filepath.Join(dir, "b.bin"), ranges, breach.ImportOptions{AllowMissingRanges: true})
	if err != nil {
		t.Fatal(err)
	}
	if prog.Hashes != 500 || prog.Files != len(files) || prog.TotalFiles != len(files) {
		t.Fatalf("dir progress %+v", prog)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.bin"))
	b, _ := os.ReadFile(filepath.Join(dir, "b.bin"))
	if !bytes.Equal(a, b) {
		t.Fatal("file and directory imports differ")
	}

	// A malformed file in the directory is named with its line. Not one
	// of the ranges written under a lowercase name above: writing it under
	// the uppercase name would add a second spelling of its range.
	var bad string
	for name := range files {
		if name[0] != 'A' {
			bad = name
			break
		}
	}
	os.WriteFile(filepath.Join(ranges, bad), []byte(hs[0].hash[5:]+":1\r\nnonsense\r\n"), 0o644)
	_, err = breach.Import(ctx, filepath.Join(dir, "c.bin"), ranges, breach.ImportOptions{AllowMissingRanges: true})
	if err == nil || !strings.Contains(err.Error(), bad+":2: not SUFFIX:COUNT") {
		t.Fatalf("bad range file: %v", err)
	}
	// Two spellings of one range.
	twice := t.TempDir()
	os.WriteFile(filepath.Join(twice, "ABCDE.txt"), []byte(hs[0].hash[5:]+":1"), 0o644)
	os.WriteFile(filepath.Join(twice, "abcde.txt"), []byte(hs[0].hash[5:]+":1"), 0o644)
	if _, err := breach.Import(ctx, filepath.Join(dir, "c.bin"), twice, breach.ImportOptions{AllowMissingRanges: true}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Fatalf("duplicate range: %v", err)
	}
	if _, err := breach.Import(ctx, filepath.Join(dir, "c.bin"), t.TempDir(), breach.ImportOptions{}); err == nil || !strings.Contains(err.Error(), "no range files") {
		t.Fatalf("empty directory: %v", err)
	}

	// Input and output the same file.
	if _, err := breach.Import(ctx, txt, txt, breach.ImportOptions{}); err == nil {
		t.Fatal("importing a file onto itself")
	}
	if _, err := os.Stat(txt); err != nil {
		t.Fatal(err)
	}
	if _, err := breach.Import(ctx, filepath.Join(dir, "d.bin"), filepath.Join(dir, "missing.txt"), breach.ImportOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing input: %v", err)
	}
}

func TestImportCancel(t *testing.T) {
	_, text := corpusText(100, breach.SHA1, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := breach.ImportReader(ctx, filepath.Join(dir, "x.bin"), strings.NewReader(text), breach.ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestCorpusCorruption(t *testing.T) {
	_, text := corpusText(2000, breach.SHA1, 6)
	_, path := importText(t, text, breach.ImportOptions{})
	orig, _ := os.ReadFile(path)
	const recordsOff = 64 + 4<<20
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		open   bool // Open succeeds, Verify fails
	}{
		{name: "magic", mutate: func(b []byte) []byte { b[0] ^= 1; return b }},
		{name: "version", mutate: func(b []byte) []byte { b[8] = 2; return b }},
		{name: "kind", mutate: func(b []byte) []byte { b[12] = 9; return b }},
		{name: "record count", mutate: func(b []byte) []byte { b[16]++; return b }},
		{name: "index", mutate: func(b []byte) []byte { b[64+4*100]++; return b }},
		{name: "truncated", mutate: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "extended", mutate: func(b []byte) []byte { return append(b, 0) }},
		{name: "short", mutate: func(b []byte) []byte { return b[:100] }},
		{name: "overflow table", mutate: func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{name: "record bit", mutate: func(b []byte) []byte { b[recordsOff+20*1000+5] ^= 4; return b }, open: true},
		{name: "record order", mutate: func(b []byte) []byte {
			// swap the first two records of the file: same checksum input
			// length, different order
			r := b[recordsOff : recordsOff+40]
			var tmp [20]byte
			copy(tmp[:], r[:20])
			copy(r[:20], r[20:])
			copy(r[20:], tmp[:])
			return b
		}, open: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.bin")
			os.WriteFile(p, tt.mutate(bytes.Clone(orig)), 0o644)
			c, err := breach.OpenCorpus(p)
			if !tt.open {
				if !errors.Is(err, breach.ErrCorrupt) {
					t.Fatalf("Open = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Verify(context.Background()); !errors.Is(err, breach.ErrCorrupt) {
				t.Fatalf("Verify = %v, want ErrCorrupt", err)
			}
		})
	}
	if _, err := breach.OpenCorpus(filepath.Join(t.TempDir(), "none.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestImportReplacesOpenCorpus(t *testing.T) {
	ctx := context.Background()
	hs1, text1 := corpusText(50, breach.SHA1, 7)
	c1, path := importText(t, text1, breach.ImportOptions{})
	hs2, text2 := corpusText(60, breach.SHA1, 8)
	if _, err := breach.ImportReader(ctx, path, strings.NewReader(text2), breach.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// The open corpus still reads the old file.
	chk1, _ := breach.New(breach.Config{Source: c1})
	if res, err := chk1.CheckSHA1(ctx, hs1[0].hash); err != nil || res.Count != hs1[0].count {
		t.Fatalf("old corpus after replace: %+v %v", res, err)
	}
	c2, err := breach.OpenCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Len() != int64(len(hs2)) {
		t.Fatalf("new corpus has %d", c2.Len())
	}
}

// FuzzImport: whatever the input, Import either refuses it with a
// FormatError naming a line, or writes a corpus that verifies and answers
// every non-padding line with its count.
func FuzzImport(f *testing.F) {
	f.Add([]byte("000000005AD76BD555C1D6D771DE417A4B87E4B4:4\r\n00000000A8DAE4228F821FB418F59826079BF368:2\r\n"))
	f.Add([]byte("000000005AD76BD555C1D6D771DE417A4B87E4B4:0\nFFFFF0005AD76BD555C1D6D771DE417A4B87E4B4:99999999"))
	f.Add([]byte("00000000A8DAE4228F821FB418F59826079BF368:1\n000000005AD76BD555C1D6D771DE417A4B87E4B4:1\n"))
	f.Add([]byte("garbage\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		path := filepath.Join(dir, "fuzz.bin")
		prog, err := breach.ImportReader(ctx, path, bytes.NewReader(data), breach.ImportOptions{})
		if err != nil {
			var fe *breach.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FormatError", err)
			}
			if fe.Line < 0 || (fe.Line == 0 && !strings.Contains(fe.Reason, "no hashes")) {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		c, err := breach.OpenCorpus(path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		if c.Len() != prog.Hashes {
			t.Fatalf("corpus has %d hashes, import said %d", c.Len(), prog.Hashes)
		}
		chk, _ := breach.New(breach.Config{Source: c})
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSuffix(l, "\r")
			if l == "" {
				continue // the end of the last line
			}
			h, cnt, _ := strings.Cut(l, ":")
			res, err := chk.CheckSHA1(ctx, h)
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if want := strings.TrimLeft(cnt, "0"); want == "" && res.Breached || want != "" && fmt.Sprint(res.Count) != want {
				t.Fatalf("line %q: got %+v", l, res)
			}
		}
	})
}
