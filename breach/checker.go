package breach

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/propops/propsec/security"
)

// EventBreachDetected is the audit event a [Checker] records when a checked
// hash is found in the corpus. The security report counts these.
const EventBreachDetected security.EventType = "password_breach_detected"

// Source answers range queries: every breached hash that shares a prefix.
// The online HIBP client (package breach/hibp), [Corpus] and [Cache] are
// Sources. Implementations must be safe for concurrent use.
type Source interface {
	// Kind returns the kind of hash the source holds.
	Kind() HashKind
	// Range returns the range for prefix, which the caller has validated
	// and uppercased (see [ParsePrefix]). A source that cannot answer
	// returns an error; never an empty range in its place.
	Range(ctx context.Context, prefix string) (*Range, error)
}

// counter is implemented by sources that answer for one hash without
// building its whole range. key is a packed record with count 0 (passed by
// value: a slice would escape to the heap through the interface).
type counter interface {
	countKey(ctx context.Context, prefix uint32, key [maxRecSize]byte) (int64, error)
}

// ErrSourceUnavailable is what every check and range query returns, wrapped
// in a [*SourceError], when its source could not answer: an HTTP failure, a
// timeout, a malformed answer, an unreadable corpus. It wraps
// [security.ErrUnavailable]. It never means "not breached".
var ErrSourceUnavailable = fmt.Errorf("breach source unavailable: %w", security.ErrUnavailable)

// SourceError says why a source could not answer. errors.Is matches it
// with [ErrSourceUnavailable] and [security.ErrUnavailable]; Unwrap gives
// the cause.
type SourceError struct {
	// Source names the source: "hibp", "corpus", "cache", or the type of
	// a host's own source.
	Source string
	// Status is the HTTP status the upstream answered with, or 0.
	Status int
	// RetryAfter is how long the upstream asked us to wait (429, 503), or 0.
	RetryAfter time.Duration
	// Err is the cause.
	Err error
}

// Error says which source failed, with the HTTP status, the wait asked
// for and the cause when known.
func (e *SourceError) Error() string {
	var b strings.Builder
	b.WriteString("breach source ")
	b.WriteString(e.Source)
	b.WriteString(" unavailable")
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, unless the cause matches one of security's
// other sentinels (a malformed upstream answer is a [*FormatError], which
// matches [security.ErrInvalid]): a source failure must never read as bad
// input, not found or forbidden. Its text is still in Error.
func (e *SourceError) Unwrap() error {
	for _, s := range maskedSentinels {
		if errors.Is(e.Err, s) {
			return nil
		}
	}
	return e.Err
}

var maskedSentinels = []error{security.ErrNotFound, security.ErrInvalid, security.ErrUnauthenticated,
	security.ErrForbidden, security.ErrConflict, security.ErrCSRF, security.ErrInvalidCredentials,
	security.ErrBlacklisted, security.ErrThrottled}

// Is makes errors.Is true for [ErrSourceUnavailable] and
// [security.ErrUnavailable].
func (e *SourceError) Is(target error) bool {
	return target == ErrSourceUnavailable || target == security.ErrUnavailable
}

// asSourceError wraps err as a SourceError unless it is one.
func asSourceError(src Source, err error) error {
	var se *SourceError
	if errors.As(err, &se) {
		return err
	}
	return &SourceError{Source: sourceName(src), Err: err}
}

func sourceName(src Source) string {
	switch src.(type) {
	case *Corpus:
		return "corpus"
	case *Cache:
		return "cache"
	}
	return fmt.Sprintf("%T", src)
}

// Config configures a [Checker]. Only Source is required.
type Config struct {
	// Source answers the range queries: the HIBP client (breach/hibp),
	// usually behind a [Cache], or an offline [Corpus].
	Source Source
	// Events, when set, records an [EventBreachDetected] audit event for
	// every check that finds its hash. The event carries the fields set
	// with [ContextWithEvent] and never the password, its hash, its
	// prefix or its count (a count can name a common password).
	Events security.EventRecorder
	// Clock stamps the events; nil is the system clock.
	Clock security.Clock
	// FailOpen makes CheckPassword, CheckSHA1 and CheckHash answer
	// Result{Unverified: true} with a nil error when the source fails,
	// instead of the error. It is meant for checks at login, where a
	// breached password only flags the login and an unreachable HIBP
	// should not refuse every login. Range never fails open. Leave it
	// false (the default: fail closed) wherever "could not check" must be
	// seen, such as the breach-check endpoint and password changes.
	FailOpen bool
	// OnSourceError, when set, is called with every source failure
	// (a [*SourceError]), whether or not the check fails open, so the
	// host can log and alert.
	OnSourceError func(ctx context.Context, err error)
	// Observer, if set, is told of every lookup that reaches the source,
	// with its result and duration ([security.KindBreachLookup]), and of
	// every source failure, by source ([security.KindBreachUpstreamError]).
	// nil measures nothing.
	Observer security.Observer
}

// Checker checks passwords and hashes against a [Source]. Only a hash's
// 5-digit prefix is ever given to the source. It is safe for concurrent
// use.
type Checker struct {
	cfg  Config
	kind HashKind
}

// Result is the answer of a check.
type Result struct {
	// Breached is true when the hash was found.
	Breached bool `json:"breached"`
	// Count is how many times it was seen in breaches (0 if not found).
	Count int64 `json:"count"`
	// Unverified is true only with [Config.FailOpen], when the source
	// failed: Breached is then false because nobody could check, not
	// because the password is clean.
	Unverified bool `json:"-"`
}

// New returns a Checker for cfg.
func New(cfg Config) (*Checker, error) {
	if cfg.Source == nil {
		return nil, errors.New("breach: Config.Source is required")
	}
	k := cfg.Source.Kind()
	if !k.valid() {
		return nil, fmt.Errorf("breach: source has unknown hash kind %d", k)
	}
	return &Checker{cfg: cfg, kind: k}, nil
}

// Kind returns the kind of hash the checker's source holds.
func (c *Checker) Kind() HashKind { return c.kind }

// CheckPassword checks a password: SHA-1 of its UTF-8 bytes, as HIBP
// hashes it. The source must hold SHA-1 hashes.
func (c *Checker) CheckPassword(ctx context.Context, password string) (Result, error) {
	if c.kind != SHA1 {
		return Result{}, fmt.Errorf("breach: CheckPassword needs a SHA-1 source, not %s", c.kind)
	}
	return c.CheckHash(ctx, HashPassword(password))
}

// CheckSHA1 checks a SHA-1 hash given as 40 hex digits (either case). The
// source must hold SHA-1 hashes.
func (c *Checker) CheckSHA1(ctx context.Context, hash string) (Result, error) {
	if c.kind != SHA1 {
		return Result{}, security.Invalidf("hash", "the breach source holds %s hashes, not SHA-1", c.kind)
	}
	return c.CheckHash(ctx, hash)
}

// CheckHash checks a hash of the source's kind (40 hex digits for SHA-1,
// 32 for NTLM; either case). A malformed hash is an error wrapping
// [security.ErrInvalid] and reaches no source. When the source fails, the
// error is a [*SourceError] (see [Config.FailOpen]). When the hash is found
// and [Config.Events] is set, an [EventBreachDetected] event is recorded; if
// recording fails, the Result is returned with that error.
func (c *Checker) CheckHash(ctx context.Context, hash string) (Result, error) {
	n := c.kind.HexLen()
	var key [maxRecSize]byte
	if len(hash) != n {
		return Result{}, security.Invalidf("hash", "must be exactly %d hexadecimal digits", n)
	}
	p, ok := prefixValue(hash[:PrefixLen])
	if !packSuffix(key[:c.kind.recSize()], hash[PrefixLen:], 0) || !ok {
		return Result{}, security.Invalidf("hash", "must be exactly %d hexadecimal digits", n)
	}
	start := c.startLookup()
	count, err := c.count(ctx, p, key)
	c.observeLookup(err, start)
	if err != nil {
		if c.cfg.OnSourceError != nil {
			c.cfg.OnSourceError(ctx, err)
		}
		if c.cfg.FailOpen {
			return Result{Unverified: true}, nil
		}
		return Result{}, err
	}
	res := Result{Breached: count > 0, Count: count}
	if res.Breached && c.cfg.Events != nil {
		ev := eventTemplate(ctx)
		ev.Type = EventBreachDetected
		ev.Time = security.Now(c.cfg.Clock)
		if err := c.cfg.Events.RecordEvents(context.WithoutCancel(ctx), ev); err != nil {
			return res, fmt.Errorf("breach: recording %s: %w", EventBreachDetected, err)
		}
	}
	return res, nil
}

// count asks the source for one hash.
func (c *Checker) count(ctx context.Context, prefix uint32, key [maxRecSize]byte) (int64, error) {
	if ct, ok := c.cfg.Source.(counter); ok {
		n, err := ct.countKey(ctx, prefix, key)
		if err != nil {
			return 0, asSourceError(c.cfg.Source, err)
		}
		return n, nil
	}
	r, err := c.rangeOf(ctx, prefixString(prefix))
	if err != nil {
		return 0, err
	}
	return r.countKey(key[:c.kind.recSize()]), nil
}

// Range returns every breached hash sharing prefix (5 hex digits, either
// case): what the breach-check endpoint answers with a prefix alone. A
// malformed prefix is an error wrapping [security.ErrInvalid] and reaches
// no source; a source failure is a [*SourceError], whatever
// [Config.FailOpen] says. Range records no event: it matches no one hash.
func (c *Checker) Range(ctx context.Context, prefix string) (*Range, error) {
	p, err := ParsePrefix(prefix)
	if err != nil {
		return nil, err
	}
	start := c.startLookup()
	r, err := c.rangeOf(ctx, p)
	c.observeLookup(err, start)
	if err != nil && c.cfg.OnSourceError != nil {
		c.cfg.OnSourceError(ctx, err)
	}
	return r, err
}

func (c *Checker) rangeOf(ctx context.Context, p string) (*Range, error) {
	r, err := c.cfg.Source.Range(ctx, p)
	switch {
	case err != nil:
		return nil, asSourceError(c.cfg.Source, err)
	case r == nil:
		return nil, asSourceError(c.cfg.Source, errors.New("source returned no range"))
	case r.prefix != p || r.kind != c.kind:
		return nil, asSourceError(c.cfg.Source,
			fmt.Errorf("source answered range %s (%s) for %s (%s)", r.prefix, r.kind, p, c.kind))
	}
	return r, nil
}

type eventKey struct{}

// ContextWithEvent returns a context whose checks record their
// [EventBreachDetected] event with ev's actor, subject, IP and details
// (ev's Type, Time and ID are ignored). The session login hook and the HTTP
// handler use it to say who was checked.
func ContextWithEvent(ctx context.Context, ev security.Event) context.Context {
	return context.WithValue(ctx, eventKey{}, ev)
}

func eventTemplate(ctx context.Context) security.Event {
	ev, _ := ctx.Value(eventKey{}).(security.Event)
	ev.ID = 0
	ev.Details = maps.Clone(ev.Details)
	return ev
}
