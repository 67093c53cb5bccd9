package security_test

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func sampleEvent() security.Event {
	return security.Event{ID: 3, Time: at, Type: security.EventLoginFailed, ActorUserID: 7,
		ActorSessionID: "sess_a", SubjectUserID: 42, Subject: "alice@example.com", IP: "198.51.100.7",
		Details: map[string]string{"reason": "bad_credentials", "kind": "web"}}
}

func TestCanonicalEventIsDeterministicAndCoversEveryField(t *testing.T) {
	base := sampleEvent()
	enc := security.AppendCanonicalEvent(nil, base)
	for range 20 { // map order must not matter
		assert.Equal(t, enc, security.AppendCanonicalEvent(nil, base))
	}
	// Another location, the same instant: the same encoding.
	moved := base
	moved.Time = at.In(time.FixedZone("X", 3600))
	assert.Equal(t, enc, security.AppendCanonicalEvent(nil, moved))

	changes := map[string]func(e *security.Event){
		"id":            func(e *security.Event) { e.ID++ },
		"time":          func(e *security.Event) { e.Time = e.Time.Add(time.Nanosecond) },
		"type":          func(e *security.Event) { e.Type = security.EventLockout },
		"actor":         func(e *security.Event) { e.ActorUserID++ },
		"actor session": func(e *security.Event) { e.ActorSessionID += "x" },
		"subject user":  func(e *security.Event) { e.SubjectUserID++ },
		"subject":       func(e *security.Event) { e.Subject += "x" },
		"ip":            func(e *security.Event) { e.IP = "198.51.100.8" },
		"detail value":  func(e *security.Event) { e.Details = map[string]string{"reason": "x", "kind": "web"} },
		"detail key":    func(e *security.Event) { e.Details = map[string]string{"reasom": "bad_credentials", "kind": "web"} },
		"detail added": func(e *security.Event) {
			e.Details = map[string]string{"reason": "bad_credentials", "kind": "web", "": ""}
		},
		"no details":      func(e *security.Event) { e.Details = nil },
		"shifted bytes":   func(e *security.Event) { e.Subject, e.IP = "alice@example.com1", "98.51.100.7" },
		"key/value split": func(e *security.Event) { e.Details = map[string]string{"reasonb": "ad_credentials", "kind": "web"} },
	}
	seen := map[string]string{string(enc): "base"}
	for name, change := range changes {
		e := sampleEvent()
		change(&e)
		got := string(security.AppendCanonicalEvent(nil, e))
		if other, dup := seen[got]; dup {
			t.Errorf("%s encodes like %s", name, other)
		}
		seen[got] = name
	}

	// nil and empty details encode alike.
	a, b := base, base
	a.Details, b.Details = nil, map[string]string{}
	assert.Equal(t, security.AppendCanonicalEvent(nil, a), security.AppendCanonicalEvent(nil, b))
}

func TestEventNanos(t *testing.T) {
	assert.Equal(t, int64(math.MinInt64), security.EventNanos(time.Time{}))
	assert.Equal(t, at.UnixNano(), security.EventNanos(at))
	assert.Equal(t, int64(math.MaxInt64), security.EventNanos(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, int64(math.MinInt64+1), security.EventNanos(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func TestEventHashChainsOnPrev(t *testing.T) {
	e := sampleEvent()
	h1 := security.EventHash(security.GenesisHash, e)
	assert.Equal(t, h1, security.EventHash(security.GenesisHash, e))
	assert.NotEqual(t, h1, security.EventHash(h1, e))
}

func TestCleanEvent(t *testing.T) {
	e := security.Event{Subject: "a\r\nb", IP: "1.2.3.4\x1b[31m", ActorSessionID: "sess_\n",
		Details: map[string]string{"k\n": "v\u2028\xff"}}
	c := security.CleanEvent(e)
	assert.Equal(t, `a\u000d\u000ab`, c.Subject)
	assert.Equal(t, `1.2.3.4\u001b[31m`, c.IP)
	assert.Equal(t, `sess_\u000a`, c.ActorSessionID)
	assert.Equal(t, map[string]string{`k\u000a`: "v\\u2028\uFFFD"}, c.Details)
	assert.Equal(t, "a\r\nb", e.Subject, "the argument is untouched")
	assert.Contains(t, e.Details, "k\n")
	assert.Equal(t, c, security.CleanEvent(c), "idempotent")

	long := security.CleanEvent(security.Event{Subject: strings.Repeat("é", security.MaxEventSubjectBytes)})
	assert.LessOrEqual(t, len(long.Subject), security.MaxEventSubjectBytes)
	assert.Nil(t, security.CleanEvent(security.Event{Details: map[string]string{}}).Details)
}

func TestAuditHeadText(t *testing.T) {
	h := security.AuditHead{ID: 12, Hash: security.EventHash(security.GenesisHash, sampleEvent())}
	got, err := security.ParseAuditHead(" " + h.String() + "\n")
	require.NoError(t, err)
	assert.Equal(t, h, got)
	zero, err := security.ParseAuditHead(security.AuditHead{}.String())
	require.NoError(t, err)
	assert.Equal(t, security.AuditHead{}, zero)

	hexHash := strings.Repeat("ab", 32)
	for _, bad := range []string{"", "12", ":" + hexHash, "-1:" + hexHash, "+1:" + hexHash, "01:" + hexHash,
		"1:" + hexHash[:62], "1:" + hexHash + "00", "1:" + strings.Repeat("zz", 32), "0:" + hexHash,
		"99999999999999999999:" + hexHash} {
		_, err := security.ParseAuditHead(bad)
		assert.ErrorIs(t, err, security.ErrInvalid, "%q", bad)
	}
}

func FuzzParseAuditHead(f *testing.F) {
	f.Add("12:" + strings.Repeat("ab", 32))
	f.Add("0:" + strings.Repeat("00", 32))
	f.Add("1:")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := security.ParseAuditHead(s)
		if err != nil {
			return
		}
		again, err := security.ParseAuditHead(h.String())
		if err != nil || again != h {
			t.Fatalf("%q parsed to %v, which does not round-trip: %v", s, h, err)
		}
	})
}

// chain builds n intact stored events.
func chain(n int) []security.ChainedEvent {
	var out []security.ChainedEvent
	prev := security.GenesisHash
	for i := range n {
		e := sampleEvent()
		e.ID, e.Subject = int64(i+1), strings.Repeat("s", i)
		h := security.EventHash(prev, e)
		out = append(out, security.ChainedEvent{Event: e, PrevHash: prev, Hash: h})
		prev = h
	}
	return out
}

func verify(t *testing.T, evs []security.ChainedEvent, assigned int64, anchors ...security.AuditHead) security.AuditResult {
	t.Helper()
	v := security.NewAuditVerifier(anchors...)
	v.Neighbours = func(prev, hash [32]byte) (before, after int64, err error) {
		for _, e := range evs {
			if e.Hash == prev && before == 0 {
				before = e.ID
			}
			if e.PrevHash == hash && after == 0 {
				after = e.ID
			}
		}
		return before, after, nil
	}
	for _, e := range evs {
		if !v.Next(e) {
			break
		}
	}
	res, err := v.Finish(assigned)
	require.NoError(t, err)
	return res
}

func TestAuditVerifier(t *testing.T) {
	intact := chain(10)
	head := security.AuditHead{ID: 10, Hash: intact[9].Hash}
	mid := security.AuditHead{ID: 5, Hash: intact[4].Hash}

	t.Run("intact", func(t *testing.T) {
		res := verify(t, intact, 10, mid, head)
		assert.True(t, res.OK(), "%v", res.Break)
		assert.Equal(t, int64(10), res.Events)
		assert.Equal(t, head, res.Head)
		empty := verify(t, nil, 0, security.AuditHead{})
		assert.True(t, empty.OK())
		assert.Equal(t, security.AuditHead{}, empty.Head)
	})

	for _, tc := range []struct {
		name     string
		tamper   func([]security.ChainedEvent) []security.ChainedEvent
		assigned int64
		anchors  []security.AuditHead
		id       int64
		problem  security.AuditProblem
	}{
		{"edited", func(c []security.ChainedEvent) []security.ChainedEvent {
			c[3].Details = map[string]string{"reason": "forged"}
			return c
		}, 10, nil, 4, security.AuditModified},
		{"hash edited", func(c []security.ChainedEvent) []security.ChainedEvent {
			c[3].Hash[0] ^= 1
			return c
		}, 10, nil, 4, security.AuditModified},
		{"edited and rehashed", func(c []security.ChainedEvent) []security.ChainedEvent {
			c[3].Subject = "forged"
			c[3].Hash = security.EventHash(c[3].PrevHash, c[3].Event)
			return c
		}, 10, nil, 4, security.AuditModified},
		{"first removed", func(c []security.ChainedEvent) []security.ChainedEvent { return c[1:] }, 10, nil, 1, security.AuditRemoved},
		{"middle removed", func(c []security.ChainedEvent) []security.ChainedEvent {
			return append(c[:4:4], c[6:]...)
		}, 10, nil, 5, security.AuditRemoved},
		{"removed and renumbered", func(c []security.ChainedEvent) []security.ChainedEvent {
			c = append(c[:4:4], c[5:]...)
			for i := 4; i < len(c); i++ {
				c[i].ID--
			}
			return c
		}, 10, nil, 5, security.AuditRemoved},
		{"swapped", func(c []security.ChainedEvent) []security.ChainedEvent {
			c[2], c[6] = c[6], c[2]
			c[2].ID, c[6].ID = 3, 7
			return c
		}, 10, nil, 3, security.AuditReordered},
		{"first two swapped", func(c []security.ChainedEvent) []security.ChainedEvent {
			c[0], c[1] = c[1], c[0]
			c[0].ID, c[1].ID = 1, 2
			return c
		}, 10, nil, 1, security.AuditReordered},
		{"tail cut, counter kept", func(c []security.ChainedEvent) []security.ChainedEvent { return c[:7] }, 10, nil, 8, security.AuditTruncated},
		{"tail cut, anchored", func(c []security.ChainedEvent) []security.ChainedEvent { return c[:7] }, 0, []security.AuditHead{head}, 8, security.AuditTruncated},
		{"all rehashed, anchored", func(c []security.ChainedEvent) []security.ChainedEvent {
			c[1].Subject = "forged"
			prev := security.GenesisHash
			for i := range c {
				c[i].PrevHash = prev
				c[i].Hash = security.EventHash(prev, c[i].Event)
				prev = c[i].Hash
			}
			return c
		}, 10, []security.AuditHead{mid, head}, 5, security.AuditRewritten},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.tamper(chain(10))
			res := verify(t, c, tc.assigned, tc.anchors...)
			require.False(t, res.OK(), "tampering missed")
			assert.Equal(t, tc.id, res.Break.ID, "%v", res.Break)
			assert.Equal(t, tc.problem, res.Break.Problem, "%v", res.Break)
			assert.NotEmpty(t, res.Break.Error())
		})
	}

	t.Run("tail cut without counter or anchor is not seen", func(t *testing.T) {
		assert.True(t, verify(t, chain(10)[:7], 0).OK())
	})
	t.Run("bad genesis anchor", func(t *testing.T) {
		res := verify(t, intact, 10, security.AuditHead{ID: 0, Hash: intact[0].Hash})
		require.False(t, res.OK())
		assert.Equal(t, security.AuditRewritten, res.Break.Problem)
	})
	t.Run("unreadable", func(t *testing.T) {
		v := security.NewAuditVerifier()
		require.True(t, v.Next(intact[0]))
		assert.False(t, v.Unreadable(2, bytes.ErrTooLarge))
		res, err := v.Finish(10)
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Break.ID)
		assert.Equal(t, security.AuditModified, res.Break.Problem)
	})
}

func BenchmarkEventHash(b *testing.B) {
	e := sampleEvent()
	for b.Loop() {
		security.EventHash(security.GenesisHash, e)
	}
}

func BenchmarkCleanEvent(b *testing.B) {
	e := sampleEvent()
	for b.Loop() {
		security.CleanEvent(e)
	}
}

// FuzzCleanEvent checks that CleanEvent cleans as CleanText does, and is
// idempotent.
func FuzzCleanEvent(f *testing.F) {
	for _, s := range []string{"", "plain ascii", "tab\there", "é", "\xff", "a\r\nb", "\u2028", "~\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := security.CleanEvent(security.Event{Subject: s, Details: map[string]string{"k": s}})
		if want := security.CleanText(s, security.MaxEventSubjectBytes); c.Subject != want {
			t.Fatalf("subject %q: got %q, want %q", s, c.Subject, want)
		}
		if want := security.CleanText(s, security.MaxEventValueBytes); c.Details["k"] != want {
			t.Fatalf("detail %q: got %q, want %q", s, c.Details["k"], want)
		}
		again := security.CleanEvent(c)
		if again.Subject != c.Subject || again.Details["k"] != c.Details["k"] {
			t.Fatalf("%q: not idempotent", s)
		}
	})
}
