package httpadapter

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// passwordRoutes lists POST /api/security/password, an extension of the
// documented API, or nothing when the Manager cannot change passwords
// (its store is not also its user directory, or does not implement
// session.PasswordChanger): the path then gets the JSON 404 of an unknown
// path.
func (h *Handler) passwordRoutes() map[string]map[string]endpoint {
	if !h.sessions.CanChangePasswords() {
		return nil
	}
	return map[string]map[string]endpoint{
		"/api/security/password": {
			http.MethodPost: {auth: authAny, body: true, csrf: true, prepare: h.changePassword},
		},
	}
}

// changePassword serves POST /api/security/password: {"current_password",
// "new_password", "revoke_other_sessions" (optional, default true),
// "csrf_token"}. It answers {"sessions_revoked": N}.
func (h *Handler) changePassword(c *call) (func() (reply, error), error) {
	var current, next string
	revoke := true
	if err := c.bind(stringField("current_password", &current, true), stringField("new_password", &next, true),
		boolField("revoke_other_sessions", &revoke, false)); err != nil {
		return nil, err
	}
	if err := session.CheckPasswordChange(current, next); err != nil {
		return nil, err
	}
	return func() (reply, error) {
		ctx := c.r.Context()
		n, err := h.sessions.ChangePassword(ctx, c.auth, session.PasswordChangeRequest{CurrentPassword: current,
			NewPassword: next, KeepOtherSessions: !revoke, IP: c.ip})
		switch {
		case err == nil:
			return reply{data: map[string]int{"sessions_revoked": n}, message: "Password changed"}, nil
		case errors.Is(err, security.ErrInvalidCredentials):
			// A 400 naming the field, not the 401 of a failed login: the
			// caller's session is fine, the password typed is not.
			return reply{}, security.Invalid("current_password", "is incorrect")
		case errors.Is(err, session.ErrBreachCheckFailed):
			h.log.WarnContext(ctx, "propsec: breach source unavailable", "err", err.Error())
			return reply{}, &httpError{status: http.StatusServiceUnavailable, code: CodeBreachSourceUnavailable,
				message: "The password breach source is unavailable; the password was not changed"}
		}
		return reply{}, describe(err, security.ErrConflict, "The password was changed by another request; try again")
	}, nil
}

// boolField accepts a JSON true or false (not null) into dst.
func boolField(name string, dst *bool, required bool) field {
	return field{name: name, required: required, decode: func(raw json.RawMessage) error {
		switch string(raw) {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			return security.Invalid(name, "must be true or false")
		}
		return nil
	}}
}
