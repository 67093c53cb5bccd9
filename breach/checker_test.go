package breach_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/security"
)

// fakeSource serves ranges from HIBP-style bodies and counts its calls.
type fakeSource struct {
	kind    breach.HashKind
	bodies  map[string]string // prefix → body
	err     error             // returned by every call when set
	release chan struct{}     // when set, calls wait for it
	wrong   bool              // answer with the wrong prefix

	mu    sync.Mutex
	calls map[string]int
}

func (s *fakeSource) Kind() breach.HashKind {
	if s.kind == 0 {
		return breach.SHA1
	}
	return s.kind
}

func (s *fakeSource) Range(ctx context.Context, prefix string) (*breach.Range, error) {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[prefix]++
	s.mu.Unlock()
	if s.release != nil {
		<-s.release
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.wrong {
		prefix = "00000"
	}
	body, ok := s.bodies[prefix]
	if !ok {
		body = strings.Repeat("0", s.Kind().SuffixLen()) + ":0" // padding only
	}
	return breach.ParseRange(s.Kind(), prefix, []byte(body))
}

func (s *fakeSource) callCount(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[prefix]
}

func (s *fakeSource) totalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// recorder is an EventRecorder that keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []security.Event
	err    error
}

func (r *recorder) RecordEvents(_ context.Context, evs ...security.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, evs...)
	return nil
}

// "password" and "P@ssw0rd" are breached; "correct horse battery staple"
// (ABF7A…) shares no range with them.
var pwned = map[string]string{
	"5BAA6": "1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n1E5A4D6AC9C1D4D46EAD76B8F3C3F7D9011:0\r\n",
	"21BD1": "2D6980B9098804E7A83DC5831BFBAF3927F:1\r\n2DC183F740EE76F27B78EB39C8AD972A757:52579\r\n",
}

func TestChecker(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	tests := []struct {
		name     string
		check    func(*breach.Checker) (breach.Result, error)
		want     breach.Result
		invalid  bool
		prefixes []string // source calls expected
	}{
		{name: "breached password", check: func(c *breach.Checker) (breach.Result, error) { return c.CheckPassword(ctx, "password") },
			want: breach.Result{Breached: true, Count: 10434004}, prefixes: []string{"5BAA6"}},
		{name: "clean password", check: func(c *breach.Checker) (breach.Result, error) {
			return c.CheckPassword(ctx, "correct horse battery staple")
		}, want: breach.Result{}, prefixes: []string{"ABF7A"}},
		{name: "sha1 lowercase", check: func(c *breach.Checker) (breach.Result, error) {
			return c.CheckSHA1(ctx, "21bd12dc183f740ee76f27b78eb39c8ad972a757")
		}, want: breach.Result{Breached: true, Count: 52579}, prefixes: []string{"21BD1"}},
		{name: "padding row is not a match", check: func(c *breach.Checker) (breach.Result, error) {
			return c.CheckSHA1(ctx, "5BAA61E5A4D6AC9C1D4D46EAD76B8F3C3F7D9011")
		}, want: breach.Result{}, prefixes: []string{"5BAA6"}},
		{name: "short hash", check: func(c *breach.Checker) (breach.Result, error) { return c.CheckSHA1(ctx, "5BAA61E4") },
			invalid: true},
		{name: "non-hex hash", check: func(c *breach.Checker) (breach.Result, error) {
			return c.CheckSHA1(ctx, "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FDZ")
		}, invalid: true},
		{name: "ntlm-length hash", check: func(c *breach.Checker) (breach.Result, error) {
			return c.CheckHash(ctx, "8846F7EAEE8FB117AD06BDD830B7586C")
		}, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{bodies: pwned}
			rec := &recorder{}
			c, err := breach.New(breach.Config{Source: src, Events: rec, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.check(c)
			if tt.invalid {
				if !errors.Is(err, security.ErrInvalid) || errors.Is(err, security.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				if n := src.totalCalls(); n != 0 {
					t.Fatalf("invalid input made %d source calls", n)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			for _, p := range tt.prefixes {
				if src.callCount(p) != 1 {
					t.Fatalf("calls %v", src.calls)
				}
			}
			if n := len(rec.events); (n == 1) != tt.want.Breached || n > 1 {
				t.Fatalf("events %+v", rec.events)
			}
		})
	}
}

func TestCheckerEvent(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	rec := &recorder{}
	c, _ := breach.New(breach.Config{Source: &fakeSource{bodies: pwned}, Events: rec, Clock: clock})
	details := map[string]string{"via": "login"}
	ctx := breach.ContextWithEvent(context.Background(), security.Event{ID: 99, Type: "other", ActorUserID: 7,
		ActorSessionID: "sess_x", SubjectUserID: 8, Subject: "a@example.com", IP: "192.0.2.1", Details: details})
	ctx, cancel := context.WithCancel(ctx)
	if _, err := c.CheckPassword(ctx, "P@ssw0rd"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if len(rec.events) != 1 {
		t.Fatalf("events %+v", rec.events)
	}
	ev := rec.events[0]
	want := security.Event{Type: breach.EventBreachDetected, Time: clock.Now(), ActorUserID: 7, ActorSessionID: "sess_x",
		SubjectUserID: 8, Subject: "a@example.com", IP: "192.0.2.1", Details: map[string]string{"via": "login"}}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Fatalf("event %+v\nwant %+v", ev, want)
	}
	ev.Details["x"] = "y"
	if len(details) != 1 {
		t.Fatal("the event shares the template's Details map")
	}
	for _, s := range []string{"21BD1", "2DC183F740", "52579", "P@ssw0rd"} {
		if strings.Contains(fmt.Sprint(ev), s) {
			t.Fatalf("event holds %q: %+v", s, ev)
		}
	}
	if breach.EventBreachDetected != "password_breach_detected" {
		t.Fatal(breach.EventBreachDetected)
	}

	// Recording fails: the result still comes back, with the error.
	rec.err = errors.New("disk full")
	res, err := c.CheckPassword(context.Background(), "password")
	if !res.Breached || err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("recording failure: %+v, %v", res, err)
	}
}

func TestCheckerSourceFailure(t *testing.T) {
	upstream := errors.New("connection refused")
	malformed := &breach.SourceError{Source: "hibp", Err: &breach.FormatError{Line: 3, Reason: "bad"}}
	tests := []struct {
		name string
		src  *fakeSource
	}{
		{"plain error", &fakeSource{err: upstream}},
		{"source error", &fakeSource{err: &breach.SourceError{Source: "hibp", Status: 500, Err: upstream}}},
		{"malformed upstream", &fakeSource{err: malformed}},
		{"not found upstream", &fakeSource{err: fmt.Errorf("x: %w", security.ErrNotFound)}},
		{"wrong range", &fakeSource{bodies: pwned, wrong: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var seen []error
			onErr := func(_ context.Context, err error) { seen = append(seen, err) }
			c, _ := breach.New(breach.Config{Source: tt.src, OnSourceError: onErr})
			res, err := c.CheckPassword(ctx, "password")
			var se *breach.SourceError
			if res != (breach.Result{}) || !errors.As(err, &se) || !errors.Is(err, breach.ErrSourceUnavailable) ||
				!errors.Is(err, security.ErrUnavailable) {
				t.Fatalf("got %+v, %v; want a SourceError", res, err)
			}
			for _, other := range []error{security.ErrInvalid, security.ErrNotFound} {
				if errors.Is(err, other) {
					t.Fatalf("source failure %v reads as %v", err, other)
				}
			}
			if _, err := c.Range(ctx, "5baa6"); !errors.Is(err, breach.ErrSourceUnavailable) {
				t.Fatalf("Range: %v", err)
			}

			open, _ := breach.New(breach.Config{Source: tt.src, FailOpen: true, OnSourceError: onErr})
			res, err = open.CheckPassword(ctx, "password")
			if err != nil || res != (breach.Result{Unverified: true}) {
				t.Fatalf("fail open: %+v, %v", res, err)
			}
			if _, err := open.Range(ctx, "5BAA6"); !errors.Is(err, breach.ErrSourceUnavailable) {
				t.Fatalf("Range failed open: %v", err)
			}
			if len(seen) != 4 {
				t.Fatalf("OnSourceError saw %d errors", len(seen))
			}
		})
	}
	if !errors.Is(breach.ErrSourceUnavailable, security.ErrUnavailable) {
		t.Fatal("ErrSourceUnavailable does not wrap security.ErrUnavailable")
	}
	se := &breach.SourceError{Source: "hibp", Status: 429, RetryAfter: 30 * time.Second, Err: upstream}
	if got := se.Error(); got != "breach source hibp unavailable: HTTP 429 (retry after 30s): connection refused" {
		t.Fatal(got)
	}
	if !errors.Is(se, upstream) {
		t.Fatal("SourceError hides a plain cause")
	}
}

func TestCheckerRange(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{bodies: pwned}
	rec := &recorder{}
	c, _ := breach.New(breach.Config{Source: src, Events: rec})
	r, err := c.Range(ctx, "21bd1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Prefix() != "21BD1" || r.Len() != 2 || r.Count("2DC183F740EE76F27B78EB39C8AD972A757") != 52579 {
		t.Fatalf("range %v", r.Entries())
	}
	if len(rec.events) != 0 {
		t.Fatal("Range recorded an event")
	}
	for _, p := range []string{"21BD", "21BD1X", "GGGGG", ""} {
		if _, err := c.Range(ctx, p); !errors.Is(err, security.ErrInvalid) {
			t.Errorf("Range(%q) = %v", p, err)
		}
	}
	if src.totalCalls() != 1 {
		t.Fatalf("source calls %v", src.calls)
	}
}

func TestCheckerKinds(t *testing.T) {
	ctx := context.Background()
	if _, err := breach.New(breach.Config{}); err == nil {
		t.Fatal("New without a source")
	}
	if _, err := breach.New(breach.Config{Source: &fakeSource{kind: 7}}); err == nil {
		t.Fatal("New with an unknown kind")
	}
	src := &fakeSource{kind: breach.NTLM, bodies: map[string]string{"8846F": "7EAEE8FB117AD06BDD830B7586C:12345\r\n"}}
	c, _ := breach.New(breach.Config{Source: src})
	if c.Kind() != breach.NTLM {
		t.Fatal(c.Kind())
	}
	res, err := c.CheckHash(ctx, "8846f7eaee8fb117ad06bdd830b7586c") // NT hash of "password"
	if err != nil || res.Count != 12345 {
		t.Fatalf("NTLM: %+v, %v", res, err)
	}
	if _, err := c.CheckSHA1(ctx, breach.HashPassword("password")); !errors.Is(err, security.ErrInvalid) {
		t.Fatalf("CheckSHA1 on NTLM: %v", err)
	}
	if _, err := c.CheckPassword(ctx, "password"); err == nil {
		t.Fatal("CheckPassword on NTLM")
	}
}
