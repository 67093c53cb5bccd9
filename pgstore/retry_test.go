package pgstore

import (
	"context"
	"errors"
	"fmt"
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

func TestRetry(t *testing.T) {
	calls := 0
	err := retry(t.Context(), func() error {
		calls++
		if calls < 3 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 3, calls)

	calls = 0
	permanent := errors.New("permanent")
	assert.ErrorIs(t, retry(t.Context(), func() error { calls++; return permanent }), permanent)
	assert.Equal(t, 1, calls)

	calls = 0
	err = retry(t.Context(), func() error { calls++; return &pgconn.PgError{Code: "40P01"} })
	assert.Error(t, err)
	assert.Equal(t, 1+len(retryDelays), calls)
}

func TestConnLost(t *testing.T) {
	lost := &pgconn.PgError{Code: "57P01"}
	assert.True(t, connLost(lost))
	assert.True(t, connLost(&pgconn.PgError{Code: "08006"}))
	assert.False(t, connLost(&pgconn.PgError{Code: "23505"}))
	assert.False(t, connLost(pgx.ErrNoRows))
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
