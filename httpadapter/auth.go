package httpadapter

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// errMalformedAuthorization is an Authorization header that is not exactly
// one "Bearer <64 lowercase hex>".
var errMalformedAuthorization = errors.New("malformed Authorization header")

// parseAuthorization returns the bearer token of the Authorization header
// values. It accepts exactly one value of the form "Bearer <token>": the
// scheme in any case (RFC 9110 section 11.1), one space, and a token of 64
// lowercase hex digits with nothing around it.
func parseAuthorization(values []string) (string, error) {
	if len(values) != 1 {
		return "", errMalformedAuthorization
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !security.ValidTokenFormat(token) {
		return "", errMalformedAuthorization
	}
	return token, nil
}

// credential says where a request's credential came from.
type credential int

const (
	fromNone credential = iota
	fromBearer
	fromCookie
)

// authenticate finds the session of r. A present Authorization header is the
// only credential looked at, even when it is malformed and a cookie is also
// sent; otherwise the session cookie is. With bearerOnly the cookie is
// ignored.
func (h *Handler) authenticate(r *http.Request, bearerOnly bool) (session.Auth, error) {
	token, src, err := h.credential(r, bearerOnly)
	if err != nil {
		return session.Auth{}, err
	}
	if src == fromNone {
		return session.Auth{}, security.ErrUnauthenticated
	}
	a, err := h.sessions.Authenticate(r.Context(), token)
	if errors.Is(err, security.ErrUnauthenticated) {
		return session.Auth{}, errInvalidToken
	}
	return a, err
}

func (h *Handler) credential(r *http.Request, bearerOnly bool) (string, credential, error) {
	if values := r.Header.Values("Authorization"); len(values) > 0 {
		token, err := parseAuthorization(values)
		if err != nil {
			return "", fromNone, &publicError{err: errInvalidToken, message: "Malformed Authorization header"}
		}
		return token, fromBearer, nil
	}
	if bearerOnly {
		return "", fromNone, nil
	}
	cookies := r.CookiesNamed(h.cookieName)
	switch {
	case len(cookies) == 0:
		return "", fromNone, nil
	case len(cookies) > 1:
		// Two cookies of our name: one was planted (cookie tossing); do
		// not guess which.
		return "", fromNone, &publicError{err: errInvalidToken, message: "More than one session cookie"}
	}
	return cookies[0].Value, fromCookie, nil
}

type authKey struct{}

// AuthFrom returns the session and principal that [Handler.RequireAuth],
// [Handler.RequireLogin] or [Handler.Protect] put in ctx.
func AuthFrom(ctx context.Context) (session.Auth, bool) {
	st, ok := ctx.Value(authKey{}).(*requestState)
	if !ok || !st.authed {
		return session.Auth{}, false
	}
	return st.auth, true
}

// RequireAuth wraps a host route: a request without a live session (bearer
// token or session cookie, as on the adapter's own routes) is answered with
// 401 and a JSON error; otherwise next runs with the [session.Auth] in the
// request's context, for [AuthFrom]. For pages, where a browser should be
// sent to the login page instead, use [Handler.RequireLogin].
//
// RequireAuth checks neither CSRF tokens nor the request's origin: wrap
// state-changing host routes in [Handler.Protect] as well.
func (h *Handler) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := h.requireSession(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireSession returns r with its session in the context, authenticating
// it unless an outer wrapper already did.
func (h *Handler) requireSession(r *http.Request) (*http.Request, error) {
	if a, ok := AuthFrom(r.Context()); ok {
		if a.Restricted {
			return r, errSecondFactorRequired
		}
		return r, nil
	}
	a, err := h.authenticate(r, false)
	if err != nil {
		return r, err
	}
	if a.Restricted {
		return r, errSecondFactorRequired
	}
	return h.withState(r, &requestState{auth: a, authed: true}), nil
}

// ClientIP returns the address of the client that sent r.
//
// It is the connection's address (r.RemoteAddr), unless that address is in
// one of the trusted prefixes: then X-Forwarded-For is read from right to
// left, skipping trusted addresses, and the first untrusted one is the
// client. The entries to its left were written by the client itself and are
// ignored. When every entry is trusted, the leftmost one is the client; an
// entry that is not an address stops the walk at the last trusted address
// seen. IPv4-mapped IPv6 addresses are returned as IPv4. An unparsable
// RemoteAddr gives the zero Addr.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok || !isTrusted(peer, trusted) {
		return peer
	}
	last := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := parseAddr(strings.TrimSpace(entries[j]))
			if !ok {
				return last
			}
			if !isTrusted(a, trusted) {
				return a
			}
			last = a
		}
	}
	return last
}

// parseAddr reads "addr" or "addr:port" ("[v6]:port"), dropping any zone.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
