package pgstore

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// retryDelays are the pauses before the second and later attempts of an
// operation that failed with a transient error.
var retryDelays = []time.Duration{5 * time.Millisecond, 25 * time.Millisecond, 100 * time.Millisecond}

// transient reports whether err leaves the operation certainly undone, so
// that running it again is safe:
//
//   - nothing reached the server ([pgconn.SafeToRetry]), as when the pool
//     handed out a connection the server had already dropped;
//   - the server rolled the transaction back: serialization_failure
//     (40001) or deadlock_detected (40P01).
//
// A connection lost after the statement was sent is not transient: the
// write may have committed, so it is reported, never retried and never
// taken for "not found".
func transient(err error) bool {
	if err == nil {
		return false
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// connLost reports whether err says the connection failed, could not be
// made or was closed, or the server ended it (SQLSTATE classes 08 and 57P,
// a network error, an unexpected EOF, a connection pgx had already closed:
// [pgconn.ErrConnClosed]). Whether the statement ran is then unknown, so
// only operations that are safe to repeat whatever happened (reads, BEGIN)
// retry on it.
func connLost(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// unavailable reports whether err means the database could not be reached
// or could not do the work now, so that the same request may succeed
// later: a lost or refused connection, a server starting up or shutting
// down, a transient error still failing after the retries, or the server
// out of resources (SQLSTATE class 53, such as too_many_connections).
func unavailable(err error) bool {
	if transient(err) || connLost(err) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "53")
}

// readTransient is transient for reads, which are safe to repeat even when
// the connection was lost mid-query.
func readTransient(err error) bool { return transient(err) || connLost(err) }

// beginError marks a failure to begin a transaction: nothing was done, so
// the transaction can be run again even when the connection was lost.
type beginError struct{ err error }

func (e *beginError) Error() string { return e.err.Error() }
func (e *beginError) Unwrap() error { return e.err }

// writeTransient is transient for write transactions: also a connection
// lost at BEGIN.
func writeTransient(err error) bool {
	var be *beginError
	return transient(err) || (errors.As(err, &be) && connLost(be.err))
}

// retry is [Store.retryIf] for operations that are safe to repeat only
// when they certainly did nothing ([transient]).
func (s *Store) retry(ctx context.Context, fn func() error) error {
	return s.retryIf(ctx, transient, fn)
}

// retryIf is [retryIf] on the store's pool: a lost connection resets it.
func (s *Store) retryIf(ctx context.Context, again func(error) bool, fn func() error) error {
	return retryIf(ctx, again, s.pool.Reset, fn)
}

// retryIf runs fn, and again while it fails with an error that again
// accepts and ctx is not done:
//
//   - after a lost connection ([connLost]), once and at once: reset has
//     closed the pool's other connections, which the same restart or
//     network failure most likely broke too, so the second run is on a new
//     connection (or finds the server down);
//   - after any other error again accepts, up to len(retryDelays) more
//     times, each after a pause.
//
// Every lost connection calls reset, whether fn runs again or not.
func retryIf(ctx context.Context, again func(error) bool, reset func(), fn func() error) error {
	err := fn()
	delays := retryDelays
	fresh := false
	for err != nil && ctx.Err() == nil {
		lost := connLost(err)
		if lost {
			reset()
		}
		switch {
		case !again(err):
			return err
		case lost:
			if fresh {
				return err
			}
			fresh = true
		default:
			if len(delays) == 0 {
				return err
			}
			t := time.NewTimer(delays[0])
			delays = delays[1:]
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		}
		err = fn()
	}
	return err
}
