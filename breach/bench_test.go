package breach_test

import (
	"context"
	"testing"

	"github.com/propops/propsec/breach"
)

// Warm lookups through the Checker on an offline corpus of 200,000
// hashes, half of them present, with a query set small enough to stay in
// the CPU caches: the cost of the code, not of memory. The side-by-side
// benchmark at 1M and 100M hashes, with random queries over the whole
// corpus, is in bench/ (bench/breach.sh).
//
//	go test -run '^$' -bench Corpus -cpu 1,2 ./breach
func BenchmarkCorpusCheckSHA1(b *testing.B) {
	hs, text := corpusText(200_000, breach.SHA1, 9)
	c, _ := importText(b, text, breach.ImportOptions{})
	chk, _ := breach.New(breach.Config{Source: c})
	queries := make([]string, 0, 4096)
	for i := range 2048 {
		h := hs[i*97%len(hs)].hash
		queries = append(queries, h, h[:39]+string("0123456789ABCDEF"[(i+int(h[39]))%16]))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := chk.CheckSHA1(ctx, queries[i%len(queries)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// A whole range, as the endpoint serves it for a prefix alone.
func BenchmarkCorpusRange(b *testing.B) {
	_, text := corpusText(200_000, breach.SHA1, 9)
	c, _ := importText(b, text, breach.ImportOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Range(ctx, prefixes[i%len(prefixes)]); err != nil {
			b.Fatal(err)
		}
	}
}

var prefixes = []string{"00000", "12345", "ABCDE", "FFFFF", "7F3A2", "C0FFE"}
