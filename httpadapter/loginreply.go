package httpadapter

import (
	"net/http"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// loginReply is the answer of a successful login, or of a verification
// that completes one, for res.Session.Kind: for a web session the session
// cookie and the principal (as POST /login answers), for a mobile one the
// bearer token (as POST /api/security/mobile-auth answers).
func (h *Handler) loginReply(w http.ResponseWriter, res session.LoginResult) reply {
	if res.Session.Kind == session.KindMobile {
		data := map[string]any{"token": res.Token}
		if res.PasswordBreached {
			data["password_breached"] = true
		}
		return reply{data: data, message: "Mobile authentication token issued"}
	}
	h.setSessionCookie(w, res)
	p := res.Principal
	perms := p.Permissions
	if perms == nil {
		perms = []security.Permission{}
	}
	return reply{data: principalJSON{UserID: p.UserID, UserName: p.Name, Email: p.Email,
		AccountType: p.AccountType, Permissions: perms, SessionID: res.Session.ID,
		ExpiresAt: timeJSON(res.Session.ExpiresAt), PasswordBreached: res.PasswordBreached}, message: "Logged in"}
}
