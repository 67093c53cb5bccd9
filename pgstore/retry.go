package pgstore

import (
	"context"
	"errors"
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

// retry runs fn, and again after a pause while it fails with a transient
// error, up to len(retryDelays) more times or until ctx is done.
func retry(ctx context.Context, fn func() error) error {
	err := fn()
	for _, d := range retryDelays {
		if !transient(err) {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = fn()
	}
	return err
}
