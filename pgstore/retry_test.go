package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/propops/propsec/security"
)

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&pgconn.PgError{Code: "40001"}, true},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40P01"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{pgx.ErrNoRows, false},
		{security.ErrNotFound, false},
		{context.Canceled, false},
	} {
		assert.Equal(t, c.want, transient(c.err), "%v", c.err)
	}
}

// How often retryIf runs an operation, and resets the pool, for each
// sequence of errors it returns.
func TestRetry(t *testing.T) {
	serialization := &pgconn.PgError{Code: "40001"}
	lost := fmt.Errorf("read: %w", io.ErrUnexpectedEOF)
	permanent := errors.New("permanent")
	for _, c := range []struct {
		name   string
		again  func(error) bool
		errs   []error // returned by the runs in turn; nil after the last
		runs   int
		resets int
		err    error
	}{
		{"success", readTransient, nil, 1, 0, nil},
		{"serialization failures, then success", transient, []error{serialization, serialization}, 3, 0, nil},
		{"permanent", transient, []error{permanent}, 1, 0, permanent},
		{"serialization failures past the retries", transient,
			[]error{serialization, serialization, serialization, serialization, serialization}, 1 + len(retryDelays), 0, serialization},
		// A lost connection is tried once more, on a reset pool.
		{"read on a dropped connection", readTransient, []error{lost}, 2, 1, nil},
		{"read while the server is down", readTransient, []error{lost, lost, lost}, 2, 2, lost},
		{"BEGIN on a closed connection", writeTransient, []error{&beginError{pgconn.ErrConnClosed}}, 2, 1, nil},
		// A write whose statement met a lost connection may have
		// committed: not run again, but the pool is reset.
		{"write statement on a lost connection", writeTransient, []error{lost}, 1, 1, lost},
		{"lost, then serialization failure", readTransient, []error{lost, serialization}, 3, 1, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs, resets := 0, 0
			err := retryIf(t.Context(), c.again, func() { resets++ }, func() error {
				runs++
				if runs <= len(c.errs) {
					return c.errs[runs-1]
				}
				return nil
			})
			if c.err == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, c.err)
			}
			assert.Equal(t, c.runs, runs, "runs")
			assert.Equal(t, c.resets, resets, "pool resets")
		})
	}
}

func TestConnLost(t *testing.T) {
	lost := &pgconn.PgError{Code: "57P01"}
	assert.True(t, connLost(lost))
	assert.True(t, connLost(&pgconn.PgError{Code: "08006"}))
	assert.False(t, connLost(&pgconn.PgError{Code: "23505"}))
	assert.False(t, connLost(pgx.ErrNoRows))
	assert.True(t, connLost(fmt.Errorf("begin: %w", pgconn.ErrConnClosed)), "pgx closed the connection earlier")
	assert.True(t, readTransient(lost))
	// A write whose statement met a lost connection may have committed.
	assert.False(t, writeTransient(lost))
	assert.True(t, writeTransient(&beginError{lost}))
	assert.False(t, writeTransient(&beginError{&pgconn.PgError{Code: "42P01"}}))
}

// What wrap marks as unavailable (503), and what it leaves as it is.
func TestWrapUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true}, // admin shutdown
		{&pgconn.PgError{Code: "57P03"}, true}, // cannot connect now (starting up)
		{&pgconn.PgError{Code: "08006"}, true}, // connection failure
		{&pgconn.PgError{Code: "53300"}, true}, // too many connections
		{&pgconn.PgError{Code: "40001"}, true}, // serialization failure, retries spent
		{pgconn.ErrConnClosed, true},           // a connection pgx had closed
		{io.ErrUnexpectedEOF, true},            // the server went away mid-reply
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42P01"}, false},
		{pgx.ErrNoRows, false},
		{errors.New("some bug"), false},
	} {
		err := wrap("op", c.err)
		assert.Equal(t, c.want, errors.Is(err, security.ErrUnavailable), "%v", c.err)
		assert.ErrorIs(t, err, c.err, "the cause stays visible")
		assert.NotErrorIs(t, err, security.ErrNotFound)
	}
}
