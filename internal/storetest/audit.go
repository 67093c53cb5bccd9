package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// testAudit checks the tamper-evident chain of [security.AuditLog], for
// stores that offer it. Tampering itself needs each store's own access
// (SQL, a test hook), so the stores' own tests cover it.
func testAudit(t *testing.T, open func(*testing.T) Store) {
	openLog := func(t *testing.T) (Store, security.AuditLog) {
		st := open(t)
		al, ok := st.(security.AuditLog)
		if !ok {
			t.Skip("the store does not implement security.AuditLog")
		}
		return st, al
	}
	head := func(t *testing.T, al security.AuditLog) security.AuditHead {
		t.Helper()
		h, err := al.EventsHead(t.Context())
		require.NoError(t, err)
		return h
	}
	verify := func(t *testing.T, al security.AuditLog, anchors ...security.AuditHead) security.AuditResult {
		t.Helper()
		res, err := al.VerifyEvents(t.Context(), anchors...)
		require.NoError(t, err)
		return res
	}
	intact := func(t *testing.T, st Store, al security.AuditLog, anchors ...security.AuditHead) {
		t.Helper()
		res := verify(t, al, anchors...)
		require.True(t, res.OK(), "chain broken: %v", res.Break)
		evs := allEvents(t, st)
		assert.Equal(t, int64(len(evs)), res.Events, "every event checked")
		assert.Equal(t, head(t, al), res.Head, "the walk ends at the head")
		for i, e := range evs {
			require.Equal(t, int64(i+1), e.ID, "IDs are 1, 2, 3, … without gaps")
		}
	}

	t.Run("empty", func(t *testing.T) {
		st, al := openLog(t)
		assert.Equal(t, security.AuditHead{}, head(t, al))
		intact(t, st, al, security.AuditHead{})
	})

	t.Run("head moves with every append", func(t *testing.T) {
		st, al := openLog(t)
		seen := map[security.AuditHead]bool{head(t, al): true}
		for i := range 5 {
			require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, fmt.Sprint(i))))
			h := head(t, al)
			assert.Equal(t, int64(i+1), h.ID)
			assert.False(t, seen[h], "a new head after each append")
			seen[h] = true
		}
		// Two events with the same content still hash apart (their IDs
		// and predecessors differ).
		require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, "same"), event(security.EventLogout, "same")))
		assert.Equal(t, int64(7), head(t, al).ID)
		intact(t, st, al)
	})

	t.Run("a failed change moves nothing", func(t *testing.T) {
		st, al := openLog(t)
		require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, "x")))
		before := head(t, al)
		err := st.RevokeSession(t.Context(), "sess_unknown", t0, []security.Event{event(security.EventSessionTerminated, "x")})
		require.ErrorIs(t, err, security.ErrNotFound)
		assert.Equal(t, before, head(t, al))
		s := newSession(1, t0)
		create(t, st, s)
		require.NoError(t, st.RevokeSession(t.Context(), s.ID, t0, []security.Event{event(security.EventSessionTerminated, s.ID)}))
		assert.Equal(t, before.ID+1, head(t, al).ID, "the revoke's event extends the chain")
		intact(t, st, al, before)
	})

	t.Run("many appends through every change", func(t *testing.T) {
		st, al := openLog(t)
		var anchors []security.AuditHead
		for i := range 40 {
			s := newSession(int64(100+i), t0)
			require.NoError(t, st.CreateSession(t.Context(), s, []security.Event{event(security.EventLoginSucceeded, s.ID)}))
			require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLoginFailed, "f")))
			require.NoError(t, st.RevokeSession(t.Context(), s.ID, t0, []security.Event{event(security.EventSessionTerminated, s.ID)}))
			require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, "a"), event(security.EventLogout, "b")))
			if i%10 == 0 {
				anchors = append(anchors, head(t, al))
			}
		}
		_, err := st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: 100, CreatedAt: t0},
			func(revoked []session.Session) []security.Event {
				return []security.Event{event(security.EventBlacklistAdded, "100")}
			})
		require.NoError(t, err)
		require.NoError(t, st.RemoveBlacklist(t.Context(), 100, []security.Event{event(security.EventBlacklistRemoved, "100")}))
		assert.Equal(t, int64(40*5+2), head(t, al).ID)
		intact(t, st, al, anchors...)
	})

	t.Run("concurrent appends", func(t *testing.T) {
		st, al := openLog(t)
		parallel(16, func(i int) (struct{}, error) {
			for j := range 8 {
				var err error
				if j%2 == 0 {
					err = st.RecordEvents(t.Context(), event(security.EventLogout, fmt.Sprint(i, j)),
						event(security.EventLogout, fmt.Sprint(i, j, "b")))
				} else {
					s := newSession(int64(i+1), t0)
					err = st.CreateSession(t.Context(), s, []security.Event{event(security.EventLoginSucceeded, s.ID)})
				}
				if !assert.NoError(t, err) {
					break
				}
			}
			return struct{}{}, nil
		})
		assert.Equal(t, int64(16*(4*2+4)), head(t, al).ID)
		intact(t, st, al)
	})

	t.Run("verify during appends", func(t *testing.T) {
		st, al := openLog(t)
		for i := range 50 {
			require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, fmt.Sprint(i))))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 100 {
				if !assert.NoError(t, st.RecordEvents(context.Background(), event(security.EventLogout, fmt.Sprint("w", i)))) {
					return
				}
			}
		}()
		for range 5 {
			res := verify(t, al)
			assert.True(t, res.OK(), "a walk racing appends sees an intact chain: %v", res.Break)
		}
		<-done
		intact(t, st, al)
	})

	t.Run("anchors", func(t *testing.T) {
		st, al := openLog(t)
		for i := range 10 {
			require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, fmt.Sprint(i))))
		}
		exported := head(t, al).String()
		for i := range 3 {
			require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, fmt.Sprint("later", i))))
		}
		anchor, err := security.ParseAuditHead(exported)
		require.NoError(t, err)
		intact(t, st, al, anchor, head(t, al))

		forged := anchor
		forged.Hash[0] ^= 1
		res := verify(t, al, forged)
		require.False(t, res.OK())
		assert.Equal(t, security.AuditRewritten, res.Break.Problem)
		assert.Equal(t, int64(10), res.Break.ID)

		beyond := security.AuditHead{ID: 20, Hash: anchor.Hash}
		res = verify(t, al, beyond)
		require.False(t, res.OK())
		assert.Equal(t, security.AuditTruncated, res.Break.Problem)
		assert.Equal(t, int64(14), res.Break.ID, "the first missing event")
	})

	t.Run("client text is stored escaped", func(t *testing.T) {
		st, al := openLog(t)
		e := security.Event{Time: t0, Type: security.EventLoginFailed, Subject: "eve@example.com\r\nlogin_succeeded",
			IP: "198.51.100.7\x1b[2K", Details: map[string]string{"user_agent": "curl\n\u2028x", "bad": "\xff"}}
		require.NoError(t, st.RecordEvents(t.Context(), e))
		got := allEvents(t, st)
		require.Len(t, got, 1)
		assert.Equal(t, `eve@example.com\u000d\u000alogin_succeeded`, got[0].Subject)
		assert.Equal(t, `198.51.100.7\u001b[2K`, got[0].IP)
		assert.Equal(t, map[string]string{"user_agent": `curl\u000a\u2028x`, "bad": "\uFFFD"}, got[0].Details)
		want := security.CleanEvent(e)
		want.ID = 1
		assert.Equal(t, normEvent(want), normEvent(got[0]))
		intact(t, st, al)
	})

	t.Run("times of every kind hash alike after a round trip", func(t *testing.T) {
		st, al := openLog(t)
		for _, at := range []time.Time{{}, t0.In(time.FixedZone("X", 5*3600)), time.Unix(0, 1), t0.Add(-100 * 365 * 24 * time.Hour)} {
			require.NoError(t, st.RecordEvents(t.Context(), security.Event{Time: at, Type: security.EventLogout}))
		}
		intact(t, st, al)
	})

	t.Run("cancelled", func(t *testing.T) {
		st, al := openLog(t)
		require.NoError(t, st.RecordEvents(t.Context(), event(security.EventLogout, "x")))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := al.VerifyEvents(ctx)
		assert.ErrorIs(t, err, context.Canceled)
	})
}
