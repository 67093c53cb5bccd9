package security

import "time"

// Clock tells the time. Every expiry decision in propsec asks a Clock, so
// tests can move time without sleeping. A nil Clock means the system clock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Now returns c.Now(), or the system time when c is nil.
func Now(c Clock) time.Time {
	if c == nil {
		return time.Now()
	}
	return c.Now()
}
