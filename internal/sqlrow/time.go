package sqlrow

import (
	"database/sql"
	"math"
	"time"

	"github.com/propops/propsec/security"
)

// ZeroNanos stores the zero time.Time.
const ZeroNanos = math.MinInt64

// Nanos is t as stored: unix nanoseconds, clamped to what an int64 holds,
// with the zero time as [ZeroNanos]. It is the encoding the audit chain
// hashes ([security.EventNanos]), so stored and hashed times cannot drift
// apart.
func Nanos(t time.Time) int64 { return security.EventNanos(t) }

// FromNanos reverses [Nanos], in UTC.
func FromNanos(n int64) time.Time {
	if n == ZeroNanos {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// NullNanos is [Nanos] for a nullable column, as a statement argument: nil
// (NULL) for the zero time, the int64 otherwise.
func NullNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return Nanos(t)
}

// FromNullNanos reverses [NullNanos]: NULL is the zero time.
func FromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return FromNanos(n.Int64)
}
