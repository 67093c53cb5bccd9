package memstore

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
)

// tamper changes the stored events directly, as a bug or someone with
// access to the process memory could.
func (s *Store) tamper(f func(events []security.Event, links []eventLink) ([]security.Event, []eventLink)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events, s.eventLinks = f(s.events, s.eventLinks)
}

func TestAuditTamperingInMemory(t *testing.T) {
	type evs = []security.Event
	type lks = []eventLink
	for _, tc := range []struct {
		name     string
		tamper   func(evs, lks) (evs, lks)
		anchored bool
		id       int64
		problem  security.AuditProblem
	}{
		{"edited", func(e evs, l lks) (evs, lks) {
			e[6].Subject = "mallory"
			return e, l
		}, false, 7, security.AuditModified},
		{"details edited in place", func(e evs, l lks) (evs, lks) {
			e[6].Details["reason"] = "throttled"
			return e, l
		}, false, 7, security.AuditModified},
		{"deleted", func(e evs, l lks) (evs, lks) {
			return slices.Delete(e, 6, 7), slices.Delete(l, 6, 7)
		}, false, 7, security.AuditRemoved},
		{"swapped", func(e evs, l lks) (evs, lks) {
			e[4], e[11] = e[11], e[4]
			e[4].ID, e[11].ID = 5, 12
			l[4], l[11] = l[11], l[4]
			return e, l
		}, false, 5, security.AuditReordered},
		{"contents swapped", func(e evs, l lks) (evs, lks) {
			e[4], e[11] = e[11], e[4]
			e[4].ID, e[11].ID = 5, 12
			return e, l
		}, false, 5, security.AuditModified},
		{"tail cut", func(e evs, l lks) (evs, lks) { return e[:17], l[:17] }, false, 18, security.AuditTruncated},
		// The rehashed last event cannot be told from the original; the
		// anchor still shows the cut.
		{"tail cut, the new last event edited and rehashed", func(e evs, l lks) (evs, lks) {
			e[16].Subject = "x"
			l[16].hash = security.EventHash(l[16].prev, e[16])
			return e[:17], l[:17]
		}, true, 18, security.AuditTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := New()
			for i := range 20 {
				require.NoError(t, st.RecordEvents(t.Context(), security.Event{Time: time.Unix(int64(i), 0),
					Type: security.EventLoginFailed, Subject: fmt.Sprint("user", i), Details: map[string]string{"reason": "x"}}))
			}
			head, err := st.EventsHead(t.Context())
			require.NoError(t, err)
			st.tamper(tc.tamper)
			var anchors []security.AuditHead
			if tc.anchored {
				anchors = append(anchors, head)
			}
			res, err := st.VerifyEvents(t.Context(), anchors...)
			require.NoError(t, err)
			require.False(t, res.OK(), "tampering missed")
			assert.Equal(t, tc.id, res.Break.ID, "%v", res.Break)
			assert.Equal(t, tc.problem, res.Break.Problem, "%v", res.Break)
		})
	}
}

func BenchmarkRecordEvent(b *testing.B) {
	st := New()
	e := security.Event{Time: time.Unix(1, 0), Type: security.EventSessionTerminated, ActorUserID: 1,
		ActorSessionID: "sess_actor", SubjectUserID: 2, Subject: "sess_subject", IP: "198.51.100.7",
		Details: map[string]string{"reason": "terminated", "kind": "web"}}
	for b.Loop() {
		_ = st.RecordEvents(b.Context(), e)
	}
}
