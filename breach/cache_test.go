package breach_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/internal/fakeclock"
)

func TestCache(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	type step struct {
		prefix  string
		advance time.Duration
		fetched bool // whether this query reaches the source
	}
	tests := []struct {
		name  string
		max   int
		ttl   time.Duration
		steps []step
	}{
		{name: "hit", steps: []step{{"5BAA6", 0, true}, {"5BAA6", 0, false}, {"5BAA6", 23 * time.Hour, false}}},
		{name: "default TTL 24h", steps: []step{{"5BAA6", 0, true}, {"5BAA6", 24 * time.Hour, true}, {"5BAA6", time.Hour, false}}},
		{name: "custom TTL", ttl: time.Minute, steps: []step{{"5BAA6", 0, true}, {"5BAA6", 59 * time.Second, false}, {"5BAA6", time.Second, true}}},
		{name: "LRU eviction", max: 2, steps: []step{
			{"00001", 0, true}, {"00002", 0, true}, {"00001", 0, false}, // 00001 is now the most recent
			{"00003", 0, true}, // evicts 00002
			{"00001", 0, false}, {"00003", 0, false}, {"00002", 0, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{bodies: pwned}
			c, err := breach.NewCache(breach.CacheConfig{Source: src, MaxRanges: tt.max, TTL: tt.ttl, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			fetches := 0
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				r, err := c.Range(ctx, s.prefix)
				if err != nil || r.Prefix() != s.prefix {
					t.Fatalf("step %d: %v, %v", i, r, err)
				}
				if s.fetched {
					fetches++
				}
				if got := src.totalCalls(); got != fetches {
					t.Fatalf("step %d (%s): %d source calls, want %d", i, s.prefix, got, fetches)
				}
			}
			st := c.Stats()
			if st.Fetches != int64(fetches) || st.Hits+st.Misses != int64(len(tt.steps)) {
				t.Fatalf("stats %+v", st)
			}
			if tt.max > 0 && st.Ranges > tt.max {
				t.Fatalf("holds %d ranges, max %d", st.Ranges, tt.max)
			}
		})
	}
}

func TestCacheErrorsNotCached(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{bodies: pwned, err: errors.New("down")}
	c, _ := breach.NewCache(breach.CacheConfig{Source: src})
	if _, err := c.Range(ctx, "5BAA6"); err == nil {
		t.Fatal("no error")
	}
	src.err = nil
	if r, err := c.Range(ctx, "5BAA6"); err != nil || r.Len() != 1 {
		t.Fatalf("after recovery: %v, %v", r, err)
	}
	if src.callCount("5BAA6") != 2 {
		t.Fatalf("calls %v", src.calls)
	}
	if c.Kind() != breach.SHA1 {
		t.Fatal(c.Kind())
	}
	wrong, _ := breach.NewCache(breach.CacheConfig{Source: &fakeSource{bodies: pwned, wrong: true}})
	if _, err := wrong.Range(ctx, "5BAA6"); err == nil {
		t.Fatal("cached a range for the wrong prefix")
	}
	if _, err := breach.NewCache(breach.CacheConfig{}); err == nil {
		t.Fatal("NewCache without a source")
	}
}

// Concurrent misses for one prefix make one call to the source.
func TestCacheSharesMisses(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{bodies: pwned, release: make(chan struct{})}
	c, _ := breach.NewCache(breach.CacheConfig{Source: src})
	chk, _ := breach.New(breach.Config{Source: c})
	const n = 20
	var wg sync.WaitGroup
	results := make([]breach.Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = chk.CheckPassword(ctx, "password") })
	}
	for c.Stats().Misses < n { // every caller has missed and joined the one fetch
		runtime.Gosched()
	}
	close(src.release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i].Count != 10434004 {
			t.Fatalf("caller %d: %+v, %v", i, results[i], errs[i])
		}
	}
	if got := src.callCount("5BAA6"); got != 1 {
		t.Fatalf("%d source calls for one prefix, want 1", got)
	}
}

// A caller that gives up stops waiting; the shared fetch completes and
// fills the cache for the others.
func TestCacheCallerCancel(t *testing.T) {
	src := &fakeSource{bodies: pwned, release: make(chan struct{})}
	c, _ := breach.NewCache(breach.CacheConfig{Source: src})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Range(ctx, "5BAA6")
		done <- err
	}()
	for src.totalCalls() == 0 {
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(src.release)
	for c.Stats().Ranges == 0 {
		runtime.Gosched()
	}
	if r, err := c.Range(context.Background(), "5BAA6"); err != nil || r.Len() != 1 || src.totalCalls() != 1 {
		t.Fatalf("%v %v calls %d", r, err, src.totalCalls())
	}
}
