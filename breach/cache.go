package breach

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/propops/propsec/security"
)

// Cache defaults.
const (
	DefaultCacheRanges = 1024
	DefaultCacheTTL    = 24 * time.Hour
)

// CacheConfig configures a [Cache]. Only Source is required.
type CacheConfig struct {
	// Source is the source behind the cache, usually the HIBP client. It
	// must bound the time of its own calls (the HIBP client does): a
	// shared fetch is not cancelled when the caller who started it gives
	// up, since others may be waiting for it.
	Source Source
	// MaxRanges bounds how many ranges are kept; the least recently used
	// goes first. Default [DefaultCacheRanges] (a SHA-1 range is about
	// 20 KiB, so about 20 MiB).
	MaxRanges int
	// TTL is how long a range is served before it is fetched again.
	// Default [DefaultCacheTTL].
	TTL time.Duration
	// Clock tells the time for TTLs; nil is the system clock.
	Clock security.Clock
	// Observer, if set, is told of every query as a hit or a miss
	// ([security.KindBreachCache]). nil measures nothing.
	Observer security.Observer
}

// Cache is a [Source] that keeps recently used ranges of another source in
// memory: a bounded LRU by prefix, each range kept for a TTL. Concurrent
// misses for one prefix share a single call to the source. Failures are not
// cached. It is safe for concurrent use.
type Cache struct {
	cfg   CacheConfig
	group singleflight.Group

	mu    sync.Mutex
	lru   list.List // of *cacheEntry, most recent first
	items map[string]*list.Element

	hits, misses, fetches atomic.Int64
}

type cacheEntry struct {
	prefix  string
	r       *Range
	expires time.Time
}

// CacheStats counts a cache's work since it was made.
type CacheStats struct {
	// Hits is how many queries the cache answered itself.
	Hits int64
	// Misses is how many it passed on (several concurrent misses for one
	// prefix share one fetch).
	Misses int64
	// Fetches is how many calls it made to its source.
	Fetches int64
	// Ranges is how many ranges it holds now.
	Ranges int
}

// NewCache returns a cache in front of cfg.Source.
func NewCache(cfg CacheConfig) (*Cache, error) {
	if cfg.Source == nil {
		return nil, errors.New("breach: CacheConfig.Source is required")
	}
	if cfg.MaxRanges <= 0 {
		cfg.MaxRanges = DefaultCacheRanges
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultCacheTTL
	}
	return &Cache{cfg: cfg, items: make(map[string]*list.Element)}, nil
}

// Kind returns the kind of hash of the source behind the cache.
func (c *Cache) Kind() HashKind { return c.cfg.Source.Kind() }

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n := len(c.items)
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Fetches: c.fetches.Load(), Ranges: n}
}

// Range returns the range for prefix (5 uppercase hex digits) from memory,
// or fetches it from the source. A caller whose ctx ends stops waiting;
// the fetch it shares with others goes on.
func (c *Cache) Range(ctx context.Context, prefix string) (*Range, error) {
	if r := c.get(prefix); r != nil {
		c.hits.Add(1)
		c.observe("hit")
		return r, nil
	}
	c.misses.Add(1)
	c.observe("miss")
	ch := c.group.DoChan(prefix, func() (any, error) {
		if r := c.get(prefix); r != nil { // filled by a flight that just ended
			return r, nil
		}
		c.fetches.Add(1)
		r, err := c.cfg.Source.Range(context.WithoutCancel(ctx), prefix)
		switch {
		case err != nil:
			return nil, err
		case r == nil || r.prefix != prefix || r.kind != c.Kind():
			return nil, errors.New("source answered with the wrong range")
		}
		c.put(prefix, r)
		return r, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Range), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cache) get(prefix string) *Range {
	now := security.Now(c.cfg.Clock)
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[prefix]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.items, prefix)
		return nil
	}
	c.lru.MoveToFront(el)
	return e.r
}

func (c *Cache) put(prefix string, r *Range) {
	expires := security.Now(c.cfg.Clock).Add(c.cfg.TTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[prefix]; ok {
		el.Value = &cacheEntry{prefix, r, expires}
		c.lru.MoveToFront(el)
		return
	}
	c.items[prefix] = c.lru.PushFront(&cacheEntry{prefix, r, expires})
	for len(c.items) > c.cfg.MaxRanges {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).prefix)
	}
}
