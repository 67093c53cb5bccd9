package breach

import (
	"errors"
	"time"

	"github.com/propops/propsec/security"
)

// startLookup returns the time a lookup starts, or the zero time when
// nothing is measured (reading the clock costs).
func (c *Checker) startLookup() time.Time {
	if c.cfg.Observer == nil {
		return time.Time{}
	}
	return time.Now()
}

// observeLookup tells Config.Observer of a lookup that started at start
// and ended with err, and of the source's failure if it failed.
func (c *Checker) observeLookup(err error, start time.Time) {
	o := c.cfg.Observer
	if o == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	o.Observe(security.Measurement{Kind: security.KindBreachLookup, Result: result, Duration: time.Since(start)})
	if err != nil {
		o.Observe(security.Measurement{Kind: security.KindBreachUpstreamError, Result: upstreamName(err)})
	}
}

// upstreamName is the Result of a [security.KindBreachUpstreamError]: the
// failed source, "hibp", "corpus" or "other".
func upstreamName(err error) string {
	var se *SourceError
	if errors.As(err, &se) && (se.Source == "hibp" || se.Source == "corpus") {
		return se.Source
	}
	return "other"
}

// observe tells CacheConfig.Observer of a hit or a miss.
func (c *Cache) observe(result string) {
	if c.cfg.Observer != nil {
		c.cfg.Observer.Observe(security.Measurement{Kind: security.KindBreachCache, Result: result})
	}
}
