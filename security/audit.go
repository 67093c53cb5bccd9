package security

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/blake3"
)

// GenesisHash is the PrevHash of the first event: 32 zero bytes.
var GenesisHash [32]byte

// AuditHead names the newest event of an audit log: its ID and hash. The
// head of an empty log is the zero AuditHead (ID 0, [GenesisHash]). A host
// exports it (its String form) to anchor the log elsewhere and passes it back
// to [AuditLog.VerifyEvents] later.
type AuditHead struct {
	ID   int64
	Hash [32]byte
}

// String returns the head as "ID:hex hash", the form [ParseAuditHead] reads.
func (h AuditHead) String() string {
	return strconv.FormatInt(h.ID, 10) + ":" + hex.EncodeToString(h.Hash[:])
}

// ParseAuditHead reads the form [AuditHead.String] writes: a non-negative
// decimal ID, a colon and 64 hex digits. Head 0 must carry [GenesisHash].
func ParseAuditHead(s string) (AuditHead, error) {
	idText, hashText, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return AuditHead{}, Invalid("head", "must be ID:hash")
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 0 || idText != strconv.FormatInt(id, 10) {
		return AuditHead{}, Invalid("head", "must start with a non-negative decimal event ID")
	}
	if len(hashText) != 64 {
		return AuditHead{}, Invalid("head", "hash must be 64 hex digits")
	}
	var h AuditHead
	h.ID = id
	if _, err := hex.Decode(h.Hash[:], []byte(hashText)); err != nil {
		return AuditHead{}, Invalid("head", "hash must be 64 hex digits")
	}
	if id == 0 && h.Hash != GenesisHash {
		return AuditHead{}, Invalid("head", "head 0 must carry the genesis hash")
	}
	return h, nil
}

// AuditLog is the optional capability of an event store whose events form a
// tamper-evident hash chain. memstore, sqlitestore and pgstore implement it,
// each with [VerifyAuditLog].
//
// Every stored event carries the hash of the
// event before it (PrevHash; [GenesisHash] for the first) and its own hash,
//
//	Hash = BLAKE3(PrevHash || AppendCanonicalEvent(nil, event))
//
// where the canonical encoding includes the event's ID. Appends are
// serialized by the store, so IDs are 1, 2, 3, … without gaps and each event
// links to the one before it.
//
// What the chain detects, and what it cannot:
//
// [AuditLog.VerifyEvents] walks the chain in ID order and reports the first
// event that breaks it:
//   - an event whose content (or stored hash) was edited: [AuditModified];
//   - events deleted from the start or the middle: a gap in the IDs, or an
//     event that links to a predecessor that is not the one before it:
//     [AuditRemoved];
//   - events moved to other IDs: [AuditReordered];
//   - events deleted from the end: [AuditTruncated], when the store's own ID
//     counter (SQLite's sqlite_sequence) shows IDs beyond the last event, or
//     when an exported head ([AuditLog.EventsHead]) given as an anchor is
//     beyond it;
//   - a chain rewritten with recomputed hashes up to an anchor:
//     [AuditRewritten].
//
// The hash is not keyed. Someone who can write the database can therefore
// edit, delete or reorder events and recompute every hash after the change,
// and reset the ID counter; nothing inside the store can tell. Only a head
// exported to a place that attacker cannot write (a log shipper, a ticket,
// another host) catches that: verifying against it finds any change at or
// before the anchored event and any truncation below it. Events recorded
// after the newest anchor are protected only against the careless
// tamperer: in particular the newest event can be edited and rehashed, and
// the newest events deleted with the counter reset, without a trace.
// Deleting the whole log and the counter looks like a new, empty log unless
// an anchor says otherwise. A store that finds no hashed event at all
// (events recorded before the chain existed) chains them as they are.
//
// The chain says nothing about whether an event is true, only that it is
// unchanged since it was appended: a host that can record events can record
// false ones.
type AuditLog interface {
	// EventsHead returns the newest event's ID and hash: export it to
	// anchor the log.
	EventsHead(ctx context.Context) (AuditHead, error)
	// VerifyEvents walks every event in ID order, in constant memory, and
	// reports the first one that breaks the chain. Each anchor, a head
	// exported earlier, must still be in the chain with the same hash. The
	// error is for failures to read; a broken chain is reported in the
	// result.
	VerifyEvents(ctx context.Context, anchors ...AuditHead) (AuditResult, error)
}

// AuditProblem says what is wrong with an event of the chain.
type AuditProblem string

// The problems [AuditLog.VerifyEvents] reports.
const (
	// AuditModified: the event's content or hash was changed.
	AuditModified AuditProblem = "modified"
	// AuditRemoved: events were deleted before this one.
	AuditRemoved AuditProblem = "removed"
	// AuditReordered: the event was recorded under another ID.
	AuditReordered AuditProblem = "reordered"
	// AuditTruncated: events were deleted from the end of the log.
	AuditTruncated AuditProblem = "truncated"
	// AuditRewritten: the chain up to an anchor differs from the anchor:
	// events at or before it were changed and every hash recomputed.
	AuditRewritten AuditProblem = "rewritten"
)

// AuditBreak is the first place where an audit chain is broken.
type AuditBreak struct {
	// ID is the first bad event: the one modified or moved, the first
	// missing one, or the anchor a rewritten chain no longer matches.
	ID      int64
	Problem AuditProblem
	// Detail explains it for a person.
	Detail string
}

// Error makes an AuditBreak usable as an error.
func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit event %d %s: %s", b.ID, b.Problem, b.Detail)
}

// AuditResult is what [AuditLog.VerifyEvents] found.
type AuditResult struct {
	// Events is how many events were checked.
	Events int64
	// Head is the newest event checked.
	Head AuditHead
	// Break is the first break of the chain; nil when it is intact.
	Break *AuditBreak
}

// OK reports whether the chain is intact.
func (r AuditResult) OK() bool { return r.Break == nil }

// Limits of the client-supplied text of an event; see [CleanEvent].
const (
	MaxEventSubjectBytes = 4096
	MaxEventIPBytes      = 256
	MaxEventKeyBytes     = 256
	MaxEventValueBytes   = 4096
)

// CleanEvent returns e with its client-supplied text (ActorSessionID,
// Subject, IP, Details keys and values) passed through [CleanText], so it
// cannot forge a log line, and Details copied. Cleaning is idempotent: a
// clean event comes back equal. Stores apply it when they record events.
func CleanEvent(e Event) Event {
	e.ActorSessionID = cleanText(e.ActorSessionID, MaxEventIPBytes)
	e.Subject = cleanText(e.Subject, MaxEventSubjectBytes)
	e.IP = cleanText(e.IP, MaxEventIPBytes)
	if len(e.Details) > 0 {
		d := make(map[string]string, len(e.Details))
		for k, v := range e.Details {
			d[cleanText(k, MaxEventKeyBytes)] = cleanText(v, MaxEventValueBytes)
		}
		e.Details = d
	} else {
		e.Details = nil
	}
	return e
}

// cleanText is CleanText(s, max), returning s itself when it is printable
// ASCII that fits, as nearly every event's text is.
func cleanText(s string, max int) string {
	if len(s) <= max {
		plain := true
		for i := 0; i < len(s) && plain; i++ {
			plain = s[i] >= 0x20 && s[i] < 0x7f
		}
		if plain {
			return s
		}
	}
	return CleanText(s, max)
}

// canonicalVersion starts every canonical encoding, so a later format
// cannot collide with this one.
const canonicalVersion = "propsec.event.v1\x00"

// AppendCanonicalEvent appends the canonical encoding of e to dst and
// returns it. It is deterministic and unambiguous: a version tag; the ID;
// the time as UTC unix nanoseconds (the zero time as math.MinInt64, others
// clamped to what an int64 holds); the actor and subject user IDs as 8-byte
// big-endian integers; Type, ActorSessionID, Subject and IP as uvarint
// length-prefixed bytes; then the number of Details and each key and value,
// length-prefixed, in key order. A nil and an empty Details encode alike.
func AppendCanonicalEvent(dst []byte, e Event) []byte {
	dst = append(dst, canonicalVersion...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.ID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(EventNanos(e.Time)))
	dst = appendString(dst, string(e.Type))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.ActorUserID))
	dst = appendString(dst, e.ActorSessionID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.SubjectUserID))
	dst = appendString(dst, e.Subject)
	dst = appendString(dst, e.IP)
	dst = binary.AppendUvarint(dst, uint64(len(e.Details)))
	if len(e.Details) == 1 {
		for k, v := range e.Details {
			dst = appendString(appendString(dst, k), v)
		}
		return dst
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendString(appendString(dst, k), e.Details[k])
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

var (
	minEventTime = time.Unix(0, math.MinInt64+1)
	maxEventTime = time.Unix(0, math.MaxInt64)
)

// EventNanos is t as the canonical encoding (and sqlitestore) holds it: UTC
// unix nanoseconds, math.MinInt64 for the zero time, clamped to what an
// int64 holds otherwise.
func EventNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return math.MinInt64
	case t.Before(minEventTime):
		return math.MinInt64 + 1
	case t.After(maxEventTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var canonicalBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// EventHash returns BLAKE3(prev || AppendCanonicalEvent(nil, e)): the hash
// an event with ID e.ID stores when it follows an event whose hash is prev.
func EventHash(prev [32]byte, e Event) [32]byte {
	bp := canonicalBufs.Get().(*[]byte)
	b := append((*bp)[:0], prev[:]...)
	b = AppendCanonicalEvent(b, e)
	sum := blake3.Sum256(b)
	if cap(b) <= 64<<10 {
		*bp = b
		canonicalBufs.Put(bp)
	}
	return sum
}

// ChainedEvent is an event as an audit log stores it, with its links.
type ChainedEvent struct {
	Event
	// PrevHash is the hash of the event before it, as recorded when it was
	// appended.
	PrevHash [32]byte
	// Hash is EventHash(PrevHash, Event).
	Hash [32]byte
}

// AuditVerifier checks a chain, one stored event at a time, in constant
// memory. [VerifyAuditLog] feeds it a store's events in ID order with
// [AuditVerifier.Next] and ends with [AuditVerifier.Finish]; a store that
// cannot offer an [AuditSource] can drive it the same way to implement
// [AuditLog.VerifyEvents].
type AuditVerifier struct {
	// Neighbours, if set, returns the IDs of the stored events whose Hash
	// is prev and whose PrevHash is hash (0 for none). It is called at most
	// once, after a break, to tell a moved event ([AuditReordered]) from an
	// edited one.
	Neighbours func(prev, hash [32]byte) (before, after int64, err error)

	anchors []AuditHead
	res     AuditResult
	prev    [32]byte
	err     error
}

// NewAuditVerifier returns a verifier that also checks anchors, heads
// exported earlier.
func NewAuditVerifier(anchors ...AuditHead) *AuditVerifier {
	a := slices.Clone(anchors)
	slices.SortFunc(a, func(x, y AuditHead) int { return cmp.Compare(x.ID, y.ID) })
	// An anchor at ID 0 is the genesis: true of every chain if its hash
	// is the genesis hash.
	v := &AuditVerifier{anchors: a}
	for len(v.anchors) > 0 && v.anchors[0].ID <= 0 {
		if v.anchors[0].Hash != GenesisHash {
			v.res.Break = &AuditBreak{ID: 0, Problem: AuditRewritten,
				Detail: "the anchor at ID 0 does not carry the genesis hash"}
		}
		v.anchors = v.anchors[1:]
	}
	return v
}

// Last returns the ID of the last event fed to Next: stores page on from
// it.
func (v *AuditVerifier) Last() int64 { return v.res.Head.ID }

// Next checks e, the event after the last one given. It returns false once
// the chain is broken (or Locate failed), when the caller should stop and
// call Finish.
func (v *AuditVerifier) Next(e ChainedEvent) bool {
	if v.res.Break != nil || v.err != nil {
		return false
	}
	if !v.inOrder(e.ID) {
		return false
	}
	fail := v.fail
	selfOK := EventHash(e.PrevHash, e.Event) == e.Hash
	linkOK := e.PrevHash == v.prev
	switch {
	case selfOK && linkOK:
	case !selfOK && linkOK:
		return fail(e.ID, AuditModified, "its content does not match its hash")
	case selfOK && !linkOK:
		if e.ID == 1 {
			return fail(e.ID, AuditModified, "the first event does not start from the genesis hash")
		}
		return fail(e.ID-1, AuditModified,
			"event %d's hash is not the one event %d recorded for its predecessor: "+
				"it was replaced or rewritten with a recomputed hash, or events were removed and renumbered", e.ID-1, e.ID)
	default:
		// Was it moved? Its own hash holds its original ID, which
		// follows its predecessor's and precedes its successor's.
		candidates := []int64{1}
		predecessorGone := false
		if v.Neighbours != nil {
			before, after, err := v.Neighbours(e.PrevHash, e.Hash)
			if err != nil {
				v.err = err
				return false
			}
			candidates = append(candidates, before+1, after-1)
			predecessorGone = before == 0 && e.PrevHash != GenesisHash
		}
		for _, id := range candidates {
			orig := e.Event
			orig.ID = id
			if id > 0 && id != e.ID && EventHash(e.PrevHash, orig) == e.Hash {
				return fail(e.ID, AuditReordered, "it holds the event recorded as %d", id)
			}
		}
		if predecessorGone {
			return fail(e.ID, AuditRemoved, "the event it follows is no longer in the log: "+
				"events were removed and the rest renumbered (or its link was edited)")
		}
		return fail(e.ID, AuditModified, "neither its content nor its link to event %d match its hashes", e.ID-1)
	}
	v.prev = e.Hash
	v.res.Events++
	v.res.Head = AuditHead{ID: e.ID, Hash: e.Hash}
	for len(v.anchors) > 0 && v.anchors[0].ID == e.ID {
		if v.anchors[0].Hash != e.Hash {
			return fail(e.ID, AuditRewritten, "its hash differs from the anchored head %s: "+
				"events up to it were changed and their hashes recomputed", v.anchors[0])
		}
		v.anchors = v.anchors[1:]
	}
	return true
}

func (v *AuditVerifier) fail(id int64, p AuditProblem, format string, args ...any) bool {
	v.res.Break = &AuditBreak{ID: id, Problem: p, Detail: fmt.Sprintf(format, args...)}
	return false
}

// inOrder checks that id follows the last event without a gap.
func (v *AuditVerifier) inOrder(id int64) bool {
	want := v.res.Head.ID + 1
	switch {
	case id == want:
		return true
	case id < want:
		return v.fail(id, AuditReordered, "event %d comes after event %d", id, v.res.Head.ID)
	case want == id-1:
		return v.fail(want, AuditRemoved, "event %d is missing (the next event is %d)", want, id)
	}
	return v.fail(want, AuditRemoved, "events %d to %d are missing", want, id-1)
}

// Unreadable records that the stored event id, the next one, cannot even
// be decoded (such as details that are not JSON any more): it was
// modified. It returns false, like a failed Next.
func (v *AuditVerifier) Unreadable(id int64, why error) bool {
	if v.res.Break != nil || v.err != nil || !v.inOrder(id) {
		return false
	}
	return v.fail(id, AuditModified, "it cannot be decoded: %v", why)
}

// Finish ends the walk and returns the result. assigned is the highest ID
// the store has ever handed out (0 if it does not know): a value beyond the
// last event means the tail was deleted.
func (v *AuditVerifier) Finish(assigned int64) (AuditResult, error) {
	if v.err != nil {
		return AuditResult{}, v.err
	}
	if v.res.Break == nil {
		last := v.res.Head.ID
		switch {
		case len(v.anchors) > 0:
			a := v.anchors[len(v.anchors)-1]
			v.res.Break = &AuditBreak{ID: last + 1, Problem: AuditTruncated,
				Detail: fmt.Sprintf("events %d to %d are missing: the anchored head is %s", last+1, a.ID, a)}
		case assigned > last:
			v.res.Break = &AuditBreak{ID: last + 1, Problem: AuditTruncated,
				Detail: fmt.Sprintf("events %d to %d are missing: the store has assigned IDs up to %d", last+1, assigned, assigned)}
		}
	}
	return v.res, nil
}
