package breach_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/security"
)

// tally counts measurements as "kind/result".
type tally struct {
	mu  sync.Mutex
	got map[string]int
}

func (t *tally) Observe(m security.Measurement) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.got == nil {
		t.got = map[string]int{}
	}
	t.got[string(m.Kind)+"/"+m.Result]++
}

func TestObserverSeesLookupsAndCache(t *testing.T) {
	ctx := context.Background()
	obs := &tally{}
	src := &fakeSource{bodies: pwned}
	cache, err := breach.NewCache(breach.CacheConfig{Source: src, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := breach.New(breach.Config{Source: cache, Observer: obs})
	for range 2 {
		if _, err := c.CheckPassword(ctx, "password"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Range(ctx, "5BAA6"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckSHA1(ctx, "not a hash"); !errors.Is(err, security.ErrInvalid) {
		t.Fatalf("malformed: %v", err)
	}

	failing := []struct {
		src  breach.Source
		want string
	}{
		{&fakeSource{err: &breach.SourceError{Source: "hibp", Status: 500, Err: errors.New("down")}}, "hibp"},
		{&fakeSource{err: errors.New("anything")}, "other"},
	}
	for _, f := range failing {
		fc, _ := breach.New(breach.Config{Source: f.src, Observer: obs, FailOpen: true})
		if _, err := fc.CheckPassword(ctx, "password"); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{
		"breach_lookup/ok":            3, // the malformed hash reached no source
		"breach_lookup/error":         2,
		"breach_cache/miss":           1,
		"breach_cache/hit":            2,
		"breach_upstream_error/hibp":  1,
		"breach_upstream_error/other": 1,
	}
	if len(obs.got) != len(want) {
		t.Fatalf("got %v, want %v", obs.got, want)
	}
	for k, v := range want {
		if obs.got[k] != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, obs.got[k], v, obs.got)
		}
	}
}
