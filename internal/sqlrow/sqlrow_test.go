package sqlrow_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// fakeRows is a result set in memory. Each row is a list of column
// values; Scan assigns them to the destinations the codecs use.
type fakeRows struct {
	rows    [][]any
	i       int
	scanErr error
	err     error
	closed  bool
}

func (r *fakeRows) Next() bool {
	if r.closed || r.i >= len(r.rows) {
		return false
	}
	r.i++
	return true
}

func (r *fakeRows) Scan(dest ...any) error {
	if r.scanErr != nil {
		return r.scanErr
	}
	row := r.rows[r.i-1]
	if len(dest) != len(row) {
		return fmt.Errorf("%d destinations for %d columns", len(dest), len(row))
	}
	for i, v := range row {
		ok := true
		switch d := dest[i].(type) {
		case *int64:
			*d, ok = v.(int64)
		case *string:
			*d, ok = v.(string)
		case *[]byte:
			*d, _ = v.([]byte)
		case sql.Scanner:
			ok = d.Scan(v) == nil
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("column %d: cannot scan %T into %T", i, v, dest[i])
		}
	}
	return nil
}

func (r *fakeRows) Err() error { return r.err }

func (r *fakeRows) Close() error { r.closed = true; return nil }

func TestNanos(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123, time.FixedZone("X", 3600))
	assert.Equal(t, at.UnixNano(), sqlrow.Nanos(at))
	assert.Equal(t, at.UTC(), sqlrow.FromNanos(sqlrow.Nanos(at)))
	assert.Equal(t, int64(math.MinInt64), sqlrow.Nanos(time.Time{}))
	assert.True(t, sqlrow.FromNanos(sqlrow.ZeroNanos).IsZero())

	assert.Nil(t, sqlrow.NullNanos(time.Time{}))
	assert.Equal(t, at.UnixNano(), sqlrow.NullNanos(at))
	assert.True(t, sqlrow.FromNullNanos(sql.NullInt64{}).IsZero())
	assert.Equal(t, at.UTC(), sqlrow.FromNullNanos(sql.NullInt64{Int64: at.UnixNano(), Valid: true}))
}

func TestSessionRow(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := session.Session{ID: "sess_a", TokenHash: security.HashToken("t"), UserID: 7, Kind: "web",
		IP: "198.51.100.7", UserAgent: "ua", Location: "here", CreatedAt: at, LastActive: at.Add(time.Minute),
		IdleTimeout: time.Hour, ExpiresAt: at.Add(24 * time.Hour)}
	for _, revoked := range []time.Time{{}, at.Add(time.Hour)} {
		s.RevokedAt = revoked
		got, err := sqlrow.ScanSession(&fakeRows{rows: [][]any{sqlrow.SessionArgs(s)}, i: 1})
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}

	bad := sqlrow.SessionArgs(s)
	bad[0] = []byte("short")
	_, err := sqlrow.ScanSession(&fakeRows{rows: [][]any{bad}, i: 1})
	assert.ErrorContains(t, err, "token hash of 5 bytes")
}

func TestBlacklistRow(t *testing.T) {
	e := session.BlacklistEntry{UserID: 7, UserName: "Mallory", Reason: "abuse", BlacklistedBy: 1,
		BlacklistedByName: "Alice", CreatedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	got, err := sqlrow.ScanBlacklistEntry(&fakeRows{rows: [][]any{sqlrow.BlacklistArgs(e)}, i: 1})
	require.NoError(t, err)
	assert.Equal(t, e, got)
}

func TestAuditHeadRow(t *testing.T) {
	want := security.AuditHead{ID: 9, Hash: security.EventHash(security.GenesisHash, security.Event{ID: 9})}
	got, err := sqlrow.ScanAuditHead(&fakeRows{rows: [][]any{{want.ID, want.Hash[:]}}, i: 1})
	require.NoError(t, err)
	assert.Equal(t, want, got)
	boom := errors.New("boom")
	_, err = sqlrow.ScanAuditHead(&fakeRows{rows: [][]any{{want.ID, want.Hash[:]}}, i: 1, scanErr: boom})
	assert.ErrorIs(t, err, boom)
}

func TestUserRow(t *testing.T) {
	u := session.User{Principal: security.Principal{UserID: 7, Name: "Alice", Email: "Alice@Example.com",
		AccountType: security.AccountStaff, Permissions: []security.Permission{security.PermSessionsList}},
		PasswordHash: "$argon2id$…"}
	perms, err := sqlrow.EncodePermissions(u.Permissions)
	require.NoError(t, err)
	row := []any{u.UserID, u.Name, u.Email, string(u.AccountType), perms, u.PasswordHash}
	got, err := sqlrow.ScanUser(&fakeRows{rows: [][]any{row}, i: 1})
	require.NoError(t, err)
	assert.Equal(t, u, got)

	none, err := sqlrow.EncodePermissions(nil)
	require.NoError(t, err)
	assert.Equal(t, "[]", none)

	key, enc, err := sqlrow.UserValues(u)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", key)
	assert.Equal(t, perms, enc)
	for _, bad := range []security.Principal{{UserID: 0, Email: "a@b"}, {UserID: 1, Email: "  "}} {
		_, _, err := sqlrow.UserValues(session.User{Principal: bad})
		assert.ErrorIs(t, err, security.ErrInvalid)
	}
}

func TestCollect(t *testing.T) {
	scanID := func(sc sqlrow.Scanner) (id int64, err error) { return id, sc.Scan(&id) }
	rows := &fakeRows{rows: [][]any{{int64(1)}, {int64(2)}}}
	ids, err := sqlrow.Collect(scanID)(rows, nil)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2}, ids)
	assert.True(t, rows.closed)

	boom := errors.New("boom")
	ids, err = sqlrow.Collect(scanID)(nil, boom)
	assert.Nil(t, ids)
	assert.ErrorIs(t, err, boom)

	// A failed row: Collect returns nothing, AppendRows what it had.
	ids, err = sqlrow.Collect(scanID)(&fakeRows{rows: [][]any{{int64(1)}, {"x"}}}, nil)
	assert.Error(t, err)
	assert.Nil(t, ids)
	rows = &fakeRows{rows: [][]any{{int64(1)}}, err: boom}
	ids, err = sqlrow.AppendRows([]int64{0}, rows, scanID)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, []int64{0, 1}, ids)
	assert.True(t, rows.closed)
}

func TestQualify(t *testing.T) {
	assert.Equal(t, "u.id, u.name, u.email, u.account_type, u.permissions, u.password_hash",
		sqlrow.Qualify("u", sqlrow.UserCols))
}

// chainRows returns the rows of n chained events, with IDs from 1, as
// the columns EventCols, prev_hash and hash.
func chainRows(n int) [][]any {
	var rows [][]any
	prev := security.GenesisHash
	for i := range n {
		e := security.Event{ID: int64(i + 1), Time: time.Unix(int64(i), 0).UTC(), Type: security.EventLogout,
			Subject: fmt.Sprint(i), Details: map[string]string{"n": fmt.Sprint(i)}}
		h := security.EventHash(prev, e)
		details, _ := sqlrow.EventDetails(e)
		rows = append(rows, []any{e.ID, sqlrow.Nanos(e.Time), string(e.Type), e.ActorUserID, e.ActorSessionID,
			e.SubjectUserID, e.Subject, e.IP, details, bytes.Clone(prev[:]), h[:]})
		prev = h
	}
	return rows
}

// pager serves rows a page at a time, as a keyset-paginated query does,
// and records the queries.
type pager struct {
	rows    [][]any
	queries []int64
	opened  []*fakeRows
	edit    func(r *fakeRows)
}

func (p *pager) query(after int64, limit int) (sqlrow.Rows, error) {
	p.queries = append(p.queries, after)
	page := &fakeRows{}
	for _, r := range p.rows {
		if r[0].(int64) > after && len(page.rows) < limit {
			page.rows = append(page.rows, r)
		}
	}
	if p.edit != nil {
		p.edit(page)
	}
	p.opened = append(p.opened, page)
	return page, nil
}

func TestChainedEvents(t *testing.T) {
	t.Run("pages", func(t *testing.T) {
		p := &pager{rows: chainRows(7)}
		v := security.NewAuditVerifier()
		n := 0
		for e, err := range sqlrow.ChainedEvents(0, 3, p.query) {
			require.NoError(t, err)
			require.True(t, v.Next(e), "event %d", e.ID)
			n++
		}
		assert.Equal(t, 7, n)
		assert.Equal(t, []int64{0, 3, 6}, p.queries) // the third page is short
		res, err := v.Finish(7)
		require.NoError(t, err)
		assert.True(t, res.OK(), "%v", res.Break)
	})
	t.Run("a full last page asks once more", func(t *testing.T) {
		p := &pager{rows: chainRows(6)}
		for _, err := range sqlrow.ChainedEvents(2, 2, p.query) {
			require.NoError(t, err)
		}
		assert.Equal(t, []int64{2, 4, 6}, p.queries)
	})
	t.Run("stopping early closes the page", func(t *testing.T) {
		p := &pager{rows: chainRows(7)}
		for e := range sqlrow.ChainedEvents(0, 3, p.query) {
			if e.ID == 2 {
				break
			}
		}
		require.Len(t, p.opened, 1)
		assert.True(t, p.opened[0].closed)
	})
	t.Run("details not JSON", func(t *testing.T) {
		rows := chainRows(5)
		rows[3][8] = "{"
		p := &pager{rows: rows}
		var got []error
		for e, err := range sqlrow.ChainedEvents(0, 3, p.query) {
			if err != nil {
				got = append(got, err)
				continue
			}
			assert.Less(t, e.ID, int64(4))
		}
		require.Len(t, got, 1)
		var bad *security.UnreadableEventError
		require.ErrorAs(t, got[0], &bad)
		assert.Equal(t, int64(4), bad.ID)
		assert.ErrorContains(t, bad.Err, "event 4 details")
		assert.True(t, p.opened[len(p.opened)-1].closed)
	})
	boom := errors.New("boom")
	for name, edit := range map[string]func(r *fakeRows){
		"scan fails": func(r *fakeRows) { r.scanErr = boom },
		"rows fail":  func(r *fakeRows) { r.err = boom },
	} {
		t.Run(name, func(t *testing.T) {
			p := &pager{rows: chainRows(2), edit: edit}
			var errs []error
			for _, err := range sqlrow.ChainedEvents(0, 3, p.query) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], boom)
			var bad *security.UnreadableEventError
			assert.False(t, errors.As(errs[0], &bad), "a failure to read is not tampering")
		})
	}
	t.Run("query fails", func(t *testing.T) {
		fail := func(int64, int) (sqlrow.Rows, error) { return nil, boom }
		for _, err := range sqlrow.ChainedEvents(0, 3, fail) {
			assert.ErrorIs(t, err, boom)
		}
	})
}
