package security

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// AuditSource is a stored audit log as [VerifyAuditLog] reads it: a store
// implements these few reads and gets [AuditLog.VerifyEvents] from
// VerifyAuditLog.
type AuditSource interface {
	// ChainedEvents yields the stored events with IDs above after, in ID
	// order, reading them as it goes so that memory stays constant. An
	// event that was read but cannot be decoded is yielded with an
	// [*UnreadableEventError]; any other error is a failure to read, which
	// ends the walk.
	ChainedEvents(ctx context.Context, after int64) iter.Seq2[ChainedEvent, error]
	// Neighbours is [AuditVerifier.Neighbours]: the IDs of the stored
	// events whose Hash is prev and whose PrevHash is hash (0 for none).
	Neighbours(ctx context.Context, prev, hash [32]byte) (before, after int64, err error)
	// Assigned returns, read together (one snapshot), the highest ID the
	// store has ever assigned (0 if it does not know) and the highest ID
	// it holds (0 for none).
	Assigned(ctx context.Context) (assigned, last int64, err error)
}

// UnreadableEventError is what an [AuditSource] yields for a stored event
// that it read but cannot decode, such as one whose details are not JSON
// any more: [VerifyAuditLog] reports that event as [AuditModified].
type UnreadableEventError struct {
	// ID is the stored event's ID.
	ID int64
	// Err says why it cannot be decoded.
	Err error
}

// Error describes the event and why it cannot be decoded.
func (e *UnreadableEventError) Error() string {
	return fmt.Sprintf("audit event %d cannot be decoded: %v", e.ID, e.Err)
}

// Unwrap returns e.Err.
func (e *UnreadableEventError) Unwrap() error { return e.Err }

// VerifyAuditLog implements [AuditLog.VerifyEvents] over src: it feeds
// src's events to an [AuditVerifier] in ID order and reports the first
// break. Events appended during the walk are checked too: once src has
// yielded its last event, VerifyAuditLog asks it which IDs were assigned,
// reads on while there are events newer than the last one checked, and
// ends with a tail deleted (an assigned ID beyond the last event) reported
// as [AuditTruncated]. Errors are src's failures to read, as they are.
func VerifyAuditLog(ctx context.Context, src AuditSource, anchors ...AuditHead) (AuditResult, error) {
	v := NewAuditVerifier(anchors...)
	v.Neighbours = func(prev, hash [32]byte) (before, after int64, err error) {
		return src.Neighbours(ctx, prev, hash)
	}
	for {
		for e, err := range src.ChainedEvents(ctx, v.Last()) {
			var bad *UnreadableEventError
			switch {
			case errors.As(err, &bad):
				v.Unreadable(bad.ID, bad.Err)
				return v.Finish(0)
			case err != nil:
				return AuditResult{}, err
			case !v.Next(e):
				return v.Finish(0) // the chain is broken
			}
		}
		assigned, last, err := src.Assigned(ctx)
		if err != nil {
			return AuditResult{}, err
		}
		if last <= v.Last() {
			return v.Finish(max(assigned, last))
		}
		// Events were appended since src yielded its last one.
	}
}
