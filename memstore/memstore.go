// Package memstore keeps every propsec store in memory: for tests, for
// examples, and for small single-process hosts that accept losing their
// sessions on restart.
//
// # Use
//
//	st := memstore.New()
//	mgr, err := session.New(session.Config{Store: st, Users: st})
//
// One [Store] implements [session.Store], [session.UserDirectory],
// [session.PasswordUpdater], [session.PasswordChanger],
// [session.SessionUserLoader], [session.VerificationStore],
// [session.FactorStore], [security.NonceStore],
// [security.SecretStore], [security.EventRecorder], [security.AuditLog],
// [integrity.Store] and [report.Store]. It is safe for concurrent use; every method holds
// one lock, so each call is atomic. Package sqlitestore implements the same
// methods with the same behaviour, durably; both pass one conformance
// suite.
package memstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Store is an in-memory implementation of every propsec store.
type Store struct {
	mu sync.RWMutex

	users       map[int64]session.User
	emails      map[string]int64 // lower-cased email → id
	sessions    map[string]*session.Session
	byToken     map[security.TokenHash]string
	blacklist   map[int64]session.BlacklistEntry
	loginIPs    map[int64]map[string]struct{}
	failures    map[string][]loginFailure
	nextFailure int64
	nonces      map[[32]byte]time.Time
	events      []security.Event
	eventLinks  []eventLink // eventLinks[i] chains events[i]
	nextEventID int64
	secrets     map[string][]byte
	integrity   integrityState
	step        stepUpState
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		users:     map[int64]session.User{},
		emails:    map[string]int64{},
		sessions:  map[string]*session.Session{},
		byToken:   map[security.TokenHash]string{},
		blacklist: map[int64]session.BlacklistEntry{},
		loginIPs:  map[int64]map[string]struct{}{},
		failures:  map[string][]loginFailure{},
		nonces:    map[[32]byte]time.Time{},
	}
}

func notFound(what string) error { return fmt.Errorf("%s: %w", what, security.ErrNotFound) }

// --- users ---

// UpsertUser adds u, or replaces the user with u's id. Emails compare
// case-insensitively and must be unique.
func (s *Store) UpsertUser(_ context.Context, u session.User) error {
	_, err := s.putUser(u, true)
	return err
}

// InsertUser adds u unless a user with u's id exists, and reports whether
// it added it. Emails compare case-insensitively and must be unique.
func (s *Store) InsertUser(_ context.Context, u session.User) (bool, error) {
	return s.putUser(u, false)
}

// putUser adds u, replacing a user with its id when replace is set.
func (s *Store) putUser(u session.User, replace bool) (bool, error) {
	if u.UserID <= 0 {
		return false, security.Invalid("id", "must be a positive integer")
	}
	key := strings.ToLower(strings.TrimSpace(u.Email))
	if key == "" {
		return false, security.Invalid("email", "is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.emails[key]; ok && id != u.UserID {
		return false, fmt.Errorf("email %q belongs to user %d: %w", u.Email, id, security.ErrConflict)
	}
	old, exists := s.users[u.UserID]
	if exists && !replace {
		return false, nil
	}
	if exists {
		delete(s.emails, strings.ToLower(strings.TrimSpace(old.Email)))
	}
	u.Permissions = slices.Clone(u.Permissions)
	s.users[u.UserID] = u
	s.emails[key] = u.UserID
	return true, nil
}

// UserByID implements [session.UserDirectory].
func (s *Store) UserByID(_ context.Context, id int64) (session.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return session.User{}, notFound("user")
	}
	u.Permissions = slices.Clone(u.Permissions)
	return u, nil
}

// UserByEmail implements [session.UserDirectory]; emails compare
// case-insensitively.
func (s *Store) UserByEmail(_ context.Context, email string) (session.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// One lock for both lookups: a concurrent UpsertUser cannot make this
	// return a user whose email no longer matches.
	u, ok := s.users[s.emails[strings.ToLower(strings.TrimSpace(email))]]
	if !ok {
		return session.User{}, notFound("user")
	}
	u.Permissions = slices.Clone(u.Permissions)
	return u, nil
}

// CountUsers returns how many users there are.
func (s *Store) CountUsers(context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.users), nil
}

// SetPasswordHash implements [session.PasswordUpdater].
func (s *Store) SetPasswordHash(_ context.Context, userID int64, phc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return notFound("user")
	}
	u.PasswordHash = phc
	s.users[userID] = u
	return nil
}

// ChangePassword implements [session.PasswordChanger]: under the store's
// lock, so the compare, the write and the revocations are one step. The
// revoked sessions are passed to events sorted by id; events must not call
// the store.
func (s *Store) ChangePassword(_ context.Context, c session.PasswordChange, events func([]session.Session) []security.Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[c.UserID]
	if !ok {
		return 0, notFound("user")
	}
	if subtle.ConstantTimeCompare([]byte(u.PasswordHash), []byte(c.OldHash)) != 1 {
		return 0, fmt.Errorf("password of user %d changed since it was verified: %w", c.UserID, security.ErrConflict)
	}
	u.PasswordHash = c.NewHash
	s.users[c.UserID] = u
	var revoked []session.Session
	if c.RevokeOthers {
		for _, sess := range s.sessions {
			if sess.UserID == c.UserID && sess.ID != c.KeepSessionID && sess.Live(c.At) {
				sess.RevokedAt = c.At
				revoked = append(revoked, *sess)
			}
		}
	}
	slices.SortFunc(revoked, func(a, b session.Session) int { return cmp.Compare(a.ID, b.ID) })
	if events != nil {
		s.appendEvents(events(revoked))
	}
	return len(revoked), nil
}

// --- events ---

// RecordEvents implements [security.EventRecorder]. Client-supplied text is
// stored cleaned ([security.CleanEvent]).
func (s *Store) RecordEvents(_ context.Context, events ...security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendEvents(events)
	return nil
}

// eventLink is the hash chain of one stored event: see [security.AuditLog].
type eventLink struct {
	prev, hash [32]byte
}

// appendEvents cleans, numbers and chains events. The caller holds s.mu for
// writing, which serializes appends.
func (s *Store) appendEvents(events []security.Event) {
	prev := security.GenesisHash
	if n := len(s.eventLinks); n > 0 {
		prev = s.eventLinks[n-1].hash
	}
	for _, e := range events {
		e = security.CleanEvent(e) // also copies Details
		s.nextEventID++
		e.ID = s.nextEventID
		h := security.EventHash(prev, e)
		s.events = append(s.events, e)
		s.eventLinks = append(s.eventLinks, eventLink{prev: prev, hash: h})
		prev = h
	}
}

// Events returns every recorded event, oldest first.
func (s *Store) Events(context.Context) ([]security.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]security.Event, len(s.events))
	for i, e := range s.events {
		e.Details = maps.Clone(e.Details)
		out[i] = e
	}
	return out, nil
}

// EventsHead implements [security.AuditLog].
func (s *Store) EventsHead(context.Context) (security.AuditHead, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := len(s.events)
	if n == 0 {
		return security.AuditHead{}, nil
	}
	return security.AuditHead{ID: s.events[n-1].ID, Hash: s.eventLinks[n-1].hash}, nil
}

// VerifyEvents implements [security.AuditLog] with
// [security.VerifyAuditLog]. It holds the read lock for the walk, so
// appends wait for it.
func (s *Store) VerifyEvents(ctx context.Context, anchors ...security.AuditHead) (security.AuditResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return security.VerifyAuditLog(ctx, auditSource{s}, anchors...)
}

// auditSource is the stored events as [security.VerifyAuditLog] reads
// them. Its caller holds s.mu.
type auditSource struct{ s *Store }

// ChainedEvents implements [security.AuditSource]. Event i is stored at
// index i-1, so the events after ID after start at index after; in a log
// tampered with, they are whatever the slice holds from there on, in its
// order, for the verifier to judge.
func (a auditSource) ChainedEvents(ctx context.Context, after int64) iter.Seq2[security.ChainedEvent, error] {
	return func(yield func(security.ChainedEvent, error) bool) {
		for i := int(min(max(after, 0), int64(len(a.s.events)))); i < len(a.s.events); i++ {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(security.ChainedEvent{}, err)
					return
				}
			}
			l := a.s.eventLinks[i]
			if !yield(security.ChainedEvent{Event: a.s.events[i], PrevHash: l.prev, Hash: l.hash}, nil) {
				return
			}
		}
	}
}

// Neighbours implements [security.AuditSource].
func (a auditSource) Neighbours(_ context.Context, prev, hash [32]byte) (before, after int64, err error) {
	for i, l := range a.s.eventLinks {
		if l.hash == prev && before == 0 {
			before = a.s.events[i].ID
		}
		if l.prev == hash && after == 0 {
			after = a.s.events[i].ID
		}
	}
	return before, after, nil
}

// Assigned implements [security.AuditSource].
func (a auditSource) Assigned(context.Context) (assigned, last int64, err error) {
	if n := len(a.s.events); n > 0 {
		last = a.s.events[n-1].ID
	}
	return a.s.nextEventID, last, nil
}

var _ security.AuditLog = (*Store)(nil)

// --- sessions ---

// CreateSession implements [session.Store].
func (s *Store) CreateSession(_ context.Context, sess session.Session, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, black := s.blacklist[sess.UserID]; black {
		return security.ErrBlacklisted
	}
	if _, dup := s.sessions[sess.ID]; dup {
		return fmt.Errorf("session %s exists: %w", sess.ID, security.ErrConflict)
	}
	if _, dup := s.byToken[sess.TokenHash]; dup {
		return fmt.Errorf("token hash exists: %w", security.ErrConflict)
	}
	c := sess
	s.sessions[sess.ID] = &c
	s.byToken[sess.TokenHash] = sess.ID
	if s.loginIPs[sess.UserID] == nil {
		s.loginIPs[sess.UserID] = map[string]struct{}{}
	}
	s.loginIPs[sess.UserID][sess.IP] = struct{}{}
	s.appendEvents(events)
	return nil
}

// SessionByTokenHash implements [session.Store].
func (s *Store) SessionByTokenHash(_ context.Context, h security.TokenHash) (session.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byToken[h]
	if !ok {
		return session.Session{}, notFound("session")
	}
	return *s.sessions[id], nil
}

// SessionUserByTokenHash implements [session.SessionUserLoader].
func (s *Store) SessionUserByTokenHash(ctx context.Context, h security.TokenHash) (session.Session, session.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byToken[h]
	if !ok {
		return session.Session{}, session.User{}, notFound("session")
	}
	sess := *s.sessions[id]
	u, ok := s.users[sess.UserID]
	if !ok {
		return session.Session{}, session.User{}, notFound("user")
	}
	u.Permissions = slices.Clone(u.Permissions)
	return sess, u, nil
}

// SessionByID implements [session.Store].
func (s *Store) SessionByID(_ context.Context, id string) (session.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[id]
	if !ok {
		return session.Session{}, notFound("session")
	}
	return *sess, nil
}

// ListSessions implements [session.Store]. A negative Offset counts as zero
// and a Limit below one returns no sessions, only the total.
func (s *Store) ListSessions(_ context.Context, q session.ListQuery) ([]session.Session, int, error) {
	s.mu.RLock()
	var live []session.Session
	for _, sess := range s.sessions {
		if sess.Live(q.Now) && (q.UserID == 0 || sess.UserID == q.UserID) {
			live = append(live, *sess)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(live, func(a, b session.Session) int {
		if c := b.LastActive.Compare(a.LastActive); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	total := len(live)
	lo, hi := min(max(q.Offset, 0), total), total
	if q.Limit < hi-lo { // also when Limit < 1: an empty page
		hi = lo + max(q.Limit, 0)
	}
	return live[lo:hi], total, nil
}

// TouchSession implements [session.Store].
func (s *Store) TouchSession(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[id]; ok && sess.RevokedAt.IsZero() && sess.LastActive.Before(at) {
		sess.LastActive = at
	}
	return nil
}

// RevokeSession implements [session.Store].
func (s *Store) RevokeSession(_ context.Context, id string, at time.Time, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok || !sess.RevokedAt.IsZero() {
		return notFound("session")
	}
	sess.RevokedAt = at
	s.appendEvents(events)
	return nil
}

// KnownLoginIP implements [session.Store].
func (s *Store) KnownLoginIP(_ context.Context, userID int64, ip string) (bool, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ips := s.loginIPs[userID]
	_, known := ips[ip]
	return known, len(ips) > 0, nil
}

// --- blacklist ---

// AddBlacklist implements [session.Store]. The revoked sessions are passed
// to events sorted by id. events runs under the store's lock, so it must not
// call the store.
func (s *Store) AddBlacklist(_ context.Context, e session.BlacklistEntry, events func([]session.Session) []security.Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blacklist[e.UserID]; ok {
		return 0, fmt.Errorf("user %d is already blacklisted: %w", e.UserID, security.ErrConflict)
	}
	var revoked []session.Session
	for _, sess := range s.sessions {
		if sess.UserID == e.UserID && sess.Live(e.CreatedAt) {
			sess.RevokedAt = e.CreatedAt
			revoked = append(revoked, *sess)
		}
	}
	slices.SortFunc(revoked, func(a, b session.Session) int { return cmp.Compare(a.ID, b.ID) })
	s.blacklist[e.UserID] = e
	if events != nil {
		s.appendEvents(events(revoked))
	}
	return len(revoked), nil
}

// RemoveBlacklist implements [session.Store].
func (s *Store) RemoveBlacklist(_ context.Context, userID int64, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blacklist[userID]; !ok {
		return notFound("blacklist entry")
	}
	delete(s.blacklist, userID)
	s.appendEvents(events)
	return nil
}

// Blacklist implements [session.Store].
func (s *Store) Blacklist(context.Context) ([]session.BlacklistEntry, error) {
	s.mu.RLock()
	out := slices.Collect(maps.Values(s.blacklist))
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b session.BlacklistEntry) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.UserID, b.UserID)
	})
	return out, nil
}

// IsBlacklisted implements [session.Store].
func (s *Store) IsBlacklisted(_ context.Context, userID int64) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.blacklist[userID]
	return ok, nil
}

// --- throttling ---

// loginFailure is one failed (or reserved) login attempt under a key.
type loginFailure struct {
	id int64
	at time.Time
}

// addFailure records a failure under key; s.mu must be held for writing.
func (s *Store) addFailure(key string, at time.Time) int64 {
	s.nextFailure++
	s.failures[key] = append(s.failures[key], loginFailure{id: s.nextFailure, at: at})
	return s.nextFailure
}

// countFailures is LoginFailures; s.mu must be held.
func (s *Store) countFailures(key string, since time.Time) (n int, oldest time.Time) {
	for _, f := range s.failures[key] {
		if !f.at.Before(since) {
			if n == 0 || f.at.Before(oldest) {
				oldest = f.at
			}
			n++
		}
	}
	return n, oldest
}

// ReserveLoginAttempt implements [session.Store]; the store's lock makes
// the count and the record one step.
func (s *Store) ReserveLoginAttempt(_ context.Context, limits []session.LoginLimit, since, at time.Time) (session.LoginReservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := session.LoginReservation{Failures: make([]int, len(limits)), Oldest: make([]time.Time, len(limits))}
	for i, l := range limits {
		r.Failures[i], r.Oldest[i] = s.countFailures(l.Key, since)
		r.Throttled = r.Throttled || r.Failures[i] >= l.Max
	}
	if r.Throttled {
		return r, nil
	}
	for _, l := range limits {
		r.Keys, r.Rows = append(r.Keys, l.Key), append(r.Rows, s.addFailure(l.Key, at))
	}
	return r, nil
}

// ReleaseLoginAttempt implements [session.Store].
func (s *Store) ReleaseLoginAttempt(_ context.Context, r session.LoginReservation, clearKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range r.Keys {
		fs := slices.DeleteFunc(s.failures[k], func(f loginFailure) bool { return slices.Contains(r.Rows, f.id) })
		if len(fs) == 0 {
			delete(s.failures, k)
		} else {
			s.failures[k] = fs
		}
	}
	if clearKey != "" {
		delete(s.failures, clearKey)
	}
	return nil
}

// LoginFailures counts key's failed login attempts at or after since and
// returns the time of the oldest (zero when none): for operators and
// tests, since login itself counts them with ReserveLoginAttempt.
func (s *Store) LoginFailures(_ context.Context, key string, since time.Time) (int, time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, oldest := s.countFailures(key, since)
	return n, oldest, nil
}

// PurgeExpired implements [session.Store].
func (s *Store) PurgeExpired(_ context.Context, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions {
		ended := (!sess.RevokedAt.IsZero() && sess.RevokedAt.Before(before)) ||
			sess.ExpiresAt.Before(before) || sess.LastActive.Add(sess.IdleTimeout).Before(before)
		if ended {
			delete(s.byToken, sess.TokenHash)
			delete(s.sessions, id)
		}
	}
	for k, fs := range s.failures {
		fs = slices.DeleteFunc(fs, func(f loginFailure) bool { return f.at.Before(before) })
		if len(fs) == 0 {
			delete(s.failures, k)
		} else {
			s.failures[k] = fs
		}
	}
	for h, exp := range s.nonces {
		if exp.Before(before) {
			delete(s.nonces, h)
		}
	}
	s.purgeVerifications(before)
	return nil
}

// --- CSRF ---

// ConsumeNonce implements [security.NonceStore].
func (s *Store) ConsumeNonce(_ context.Context, hash [32]byte, expires time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, used := s.nonces[hash]; used {
		return false, nil
	}
	s.nonces[hash] = expires
	return true, nil
}

var (
	_ session.Store             = (*Store)(nil)
	_ session.UserDirectory     = (*Store)(nil)
	_ session.PasswordUpdater   = (*Store)(nil)
	_ session.PasswordChanger   = (*Store)(nil)
	_ session.SessionUserLoader = (*Store)(nil)
	_ security.NonceStore       = (*Store)(nil)
)

// Secret implements [security.SecretStore].
func (s *Store) Secret(_ context.Context, name string, size int) ([]byte, error) {
	if size <= 0 {
		return nil, security.Invalid("size", "must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets == nil {
		s.secrets = map[string][]byte{}
	}
	if b, ok := s.secrets[name]; ok {
		return slices.Clone(b), nil
	}
	b := make([]byte, size)
	rand.Read(b)
	s.secrets[name] = b
	return slices.Clone(b), nil
}

var _ security.SecretStore = (*Store)(nil)
