package session

import (
	"context"
	"errors"
	"net/netip"

	"github.com/propops/propsec/security"
)

// ReasonSignOutOthers is the Details reason of the session_terminated
// events of [Manager.TerminateOthers].
const ReasonSignOutOthers = "signed_out_elsewhere"

// ListOwn returns a page of the caller's own live sessions (web sessions
// and bearer tokens, newest LastActive first, the current one marked
// IsCurrent) and how many there are in all. Any authenticated user may
// list their own sessions; no permission is needed. opts.UserID must be
// zero or the caller's own id (another user's is [security.ErrForbidden]:
// that is [Manager.List], for staff); Page and Limit are as for List.
func (m *Manager) ListOwn(ctx context.Context, actor Auth, opts ListOptions) ([]SessionInfo, int, error) {
	if actor.Principal.UserID <= 0 {
		return nil, 0, security.ErrUnauthenticated
	}
	if opts.UserID != 0 && opts.UserID != actor.Principal.UserID {
		return nil, 0, security.ErrForbidden
	}
	opts.UserID = actor.Principal.UserID
	return m.list(ctx, actor, opts)
}

// TerminateOthers revokes every live session of the caller's user, web
// sessions and bearer tokens alike, except the session the caller is
// using: "sign out everywhere else". Any authenticated user may do it for
// themselves. Each revoked session gets a [security.EventSessionTerminated]
// event (Details reason [ReasonSignOutOthers] and kind), written in the
// same store call as its revocation, so the security report counts them
// as terminated sessions. It returns how many sessions it revoked; a
// session that ends meanwhile (a logout elsewhere) is skipped, not an
// error. Sessions are revoked one store call at a time: should it fail
// part way, those revoked stay revoked and the error is returned.
func (m *Manager) TerminateOthers(ctx context.Context, actor Auth, ip netip.Addr) (int, error) {
	userID := actor.Principal.UserID
	if userID <= 0 {
		return 0, security.ErrUnauthenticated
	}
	now := m.now()
	ipS := ipString(ip)
	revoked := 0
	for {
		// Revoked sessions leave the live list, so the first page is always
		// the next batch.
		page, _, err := m.cfg.Store.ListSessions(ctx, ListQuery{Now: now, UserID: userID, Limit: MaxListLimit})
		if err != nil {
			return revoked, err
		}
		progress := false
		for _, s := range page {
			if s.ID == actor.Session.ID || s.UserID != userID {
				continue
			}
			ev := security.Event{Time: now, Type: security.EventSessionTerminated, ActorUserID: userID,
				ActorSessionID: actor.Session.ID, SubjectUserID: userID, Subject: s.ID, IP: ipS,
				Details: map[string]string{"reason": ReasonSignOutOthers, "kind": string(s.Kind)}}
			err := m.cfg.Store.RevokeSession(ctx, s.ID, now, []security.Event{ev})
			switch {
			case err == nil:
				revoked++
				progress = true
			case errors.Is(err, security.ErrNotFound):
				// Ended meanwhile: nothing left to revoke.
			default:
				return revoked, err
			}
		}
		// A page with nothing revoked holds only the current session, or
		// sessions that ended meanwhile: none are left.
		if !progress {
			return revoked, nil
		}
	}
}
