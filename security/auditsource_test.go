package security_test

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
)

// fakeSource is an AuditSource over a slice, with hooks for what a stored
// log does to a walk: appends between reads, rows that do not decode,
// failures to read.
type fakeSource struct {
	evs      []security.ChainedEvent
	assigned int64
	// unreadable, when non-zero, is the ID of an event that cannot be
	// decoded.
	unreadable int64
	// afterPass runs when a pass of ChainedEvents has yielded its last event.
	afterPass func(s *fakeSource)
	// errEvents, errNeighbours and errAssigned fail those reads.
	errEvents, errNeighbours, errAssigned error
	passes                                int
}

func (s *fakeSource) ChainedEvents(_ context.Context, after int64) iter.Seq2[security.ChainedEvent, error] {
	return func(yield func(security.ChainedEvent, error) bool) {
		s.passes++
		if s.errEvents != nil {
			yield(security.ChainedEvent{}, s.errEvents)
			return
		}
		for _, e := range s.evs {
			if e.ID <= after {
				continue
			}
			if e.ID == s.unreadable {
				yield(security.ChainedEvent{}, &security.UnreadableEventError{ID: e.ID, Err: errors.New("details: not JSON")})
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if s.afterPass != nil {
			s.afterPass(s)
		}
	}
}

func (s *fakeSource) Neighbours(_ context.Context, prev, hash [32]byte) (before, after int64, err error) {
	for _, e := range s.evs {
		if e.Hash == prev && before == 0 {
			before = e.ID
		}
		if e.PrevHash == hash && after == 0 {
			after = e.ID
		}
	}
	return before, after, s.errNeighbours
}

func (s *fakeSource) Assigned(context.Context) (assigned, last int64, err error) {
	if n := len(s.evs); n > 0 {
		last = s.evs[n-1].ID
	}
	return s.assigned, last, s.errAssigned
}

func TestVerifyAuditLog(t *testing.T) {
	ctx := t.Context()
	full := chain(12)
	head := security.AuditHead{ID: 12, Hash: full[11].Hash}

	t.Run("intact", func(t *testing.T) {
		res, err := security.VerifyAuditLog(ctx, &fakeSource{evs: full, assigned: 12}, head)
		require.NoError(t, err)
		assert.True(t, res.OK(), "%v", res.Break)
		assert.Equal(t, int64(12), res.Events)
		assert.Equal(t, head, res.Head)
	})
	t.Run("empty", func(t *testing.T) {
		res, err := security.VerifyAuditLog(ctx, &fakeSource{})
		require.NoError(t, err)
		assert.True(t, res.OK())
		assert.Equal(t, security.AuditHead{}, res.Head)
	})
	t.Run("events appended during the walk are checked", func(t *testing.T) {
		src := &fakeSource{evs: full[:5], assigned: 5}
		src.afterPass = func(s *fakeSource) {
			if len(s.evs) < len(full) {
				s.evs = full[:min(len(s.evs)+4, len(full))]
				s.assigned = int64(len(s.evs))
			}
		}
		res, err := security.VerifyAuditLog(ctx, src)
		require.NoError(t, err)
		assert.True(t, res.OK(), "%v", res.Break)
		assert.Equal(t, head, res.Head)
		assert.Equal(t, int64(12), res.Events)
		assert.Equal(t, 3, src.passes) // up to events 5, 9 and 12
	})
	t.Run("deleted tail", func(t *testing.T) {
		res, err := security.VerifyAuditLog(ctx, &fakeSource{evs: full[:9], assigned: 12})
		require.NoError(t, err)
		require.False(t, res.OK())
		assert.Equal(t, int64(10), res.Break.ID)
		assert.Equal(t, security.AuditTruncated, res.Break.Problem)
	})
	t.Run("moved event", func(t *testing.T) {
		c := chain(12)
		c[2], c[6] = c[6], c[2]
		c[2].ID, c[6].ID = 3, 7
		res, err := security.VerifyAuditLog(ctx, &fakeSource{evs: c, assigned: 12})
		require.NoError(t, err)
		require.False(t, res.OK())
		assert.Equal(t, int64(3), res.Break.ID)
		assert.Equal(t, security.AuditReordered, res.Break.Problem)
	})
	t.Run("unreadable event", func(t *testing.T) {
		res, err := security.VerifyAuditLog(ctx, &fakeSource{evs: full, assigned: 12, unreadable: 4})
		require.NoError(t, err)
		require.False(t, res.OK())
		assert.Equal(t, int64(4), res.Break.ID)
		assert.Equal(t, security.AuditModified, res.Break.Problem)
		assert.Contains(t, res.Break.Detail, "details: not JSON")
	})

	boom := errors.New("boom")
	edited := chain(12)
	edited[3].Subject, edited[3].PrevHash = "forged", [32]byte{1} // neither content nor link match
	for _, tc := range []struct {
		name string
		src  *fakeSource
	}{
		{"events", &fakeSource{evs: full, errEvents: boom}},
		{"neighbours", &fakeSource{evs: edited, errNeighbours: boom}},
		{"assigned", &fakeSource{evs: full, errAssigned: boom}},
	} {
		t.Run("failed read of "+tc.name, func(t *testing.T) {
			_, err := security.VerifyAuditLog(ctx, tc.src)
			assert.ErrorIs(t, err, boom)
		})
	}
}

func TestUnreadableEventError(t *testing.T) {
	why := errors.New("details: not JSON")
	err := error(&security.UnreadableEventError{ID: 7, Err: why})
	assert.ErrorIs(t, err, why)
	assert.Equal(t, "audit event 7 cannot be decoded: details: not JSON", err.Error())
}
