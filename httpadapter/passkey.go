package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// CodePasskeyRefused is the error code of a passkey registration whose
// response did not verify (wrong origin or challenge, an expired, used or
// foreign ceremony).
const CodePasskeyRefused = "passkey_refused"

// Paths of the passkey endpoints.
const (
	PasskeysPath            = "/api/security/passkeys"
	PasskeyVerificationPath = "/api/security/passkey-verification"
	PasskeyLoginPath        = "/api/security/passkey-login"
)

// Body limits of the passkey endpoints: the credential's own limit and 4
// KiB for the other members.
const (
	MaxPasskeysBody            = passkey.MaxRegistrationBytes + 4<<10
	MaxPasskeyVerificationBody = passkey.MaxAssertionBytes + 4<<10
)

// passkeyRoutes lists the passkey endpoints, extensions of the documented
// API, when Config.Passkeys is set:
//
//	GET  /api/security/passkeys              the caller's passkeys
//	POST /api/security/passkeys              register_begin, register_finish, remove (CSRF)
//	POST /api/security/passkey-verification  begin, finish: a login's verification by passkey
//	POST /api/security/passkey-login         begin, finish: a usernameless login by passkey
func (h *Handler) passkeyRoutes() map[string]map[string]endpoint {
	if h.passkeys == nil {
		return nil
	}
	return map[string]map[string]endpoint{
		PasskeysPath: {
			// A restricted session (a staff user who must enrol a second
			// factor) may register a passkey.
			http.MethodGet:  {auth: authAny, restricted: true, prepare: h.listPasskeys},
			http.MethodPost: {auth: authAny, restricted: true, body: true, csrf: true, maxBody: MaxPasskeysBody, prepare: h.changePasskeys},
		},
		PasskeyVerificationPath: {
			http.MethodPost: {body: true, maxBody: MaxPasskeyVerificationBody, prepare: h.verifyByPasskey},
		},
		PasskeyLoginPath: {
			http.MethodPost: {body: true, maxBody: MaxPasskeyVerificationBody, prepare: h.loginByPasskey},
		},
	}
}

type passkeyJSON struct {
	CredentialID      string   `json:"credential_id"`
	Name              string   `json:"name"`
	CreatedAt         string   `json:"created_at"`
	LastUsedAt        *string  `json:"last_used_at"`
	Transports        []string `json:"transports"`
	AAGUID            string   `json:"aaguid"`
	AttestationFormat string   `json:"attestation_format"`
	UserVerified      bool     `json:"user_verified"`
	BackupEligible    bool     `json:"backup_eligible"`
	BackupState       bool     `json:"backup_state"`
	CloneWarning      bool     `json:"clone_warning"`
}

func passkeyData(c passkey.Credential) passkeyJSON {
	p := passkeyJSON{CredentialID: passkey.CredentialID(c.ID), Name: c.Name, CreatedAt: timeJSON(c.CreatedAt),
		Transports: c.Transports, AAGUID: aaguidString(c.AAGUID), AttestationFormat: c.AttestationFormat,
		UserVerified: c.UserVerified, BackupEligible: c.BackupEligible, BackupState: c.BackupState,
		CloneWarning: c.CloneWarning}
	if p.Transports == nil {
		p.Transports = []string{}
	}
	if !c.LastUsedAt.IsZero() {
		t := timeJSON(c.LastUsedAt)
		p.LastUsedAt = &t
	}
	return p
}

// aaguidString writes a 16-byte AAGUID as a UUID ("" otherwise).
func aaguidString(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[x>>4], hexd[x&15])
	}
	return string(out)
}

// ceremonyJSON answers a begun ceremony: its id, and the options for
// navigator.credentials.create or .get ({"publicKey": {…}}).
type ceremonyJSON struct {
	CeremonyID string          `json:"ceremony_id"`
	Options    json.RawMessage `json:"options"`
}

// listPasskeys serves GET /api/security/passkeys.
func (h *Handler) listPasskeys(c *call) (func() (reply, error), error) {
	return func() (reply, error) {
		list, err := h.passkeys.List(c.r.Context(), c.auth.Principal.UserID)
		if err != nil {
			return reply{}, err
		}
		data := make([]passkeyJSON, len(list))
		for i, p := range list {
			data[i] = passkeyData(p)
		}
		n := len(data)
		return reply{data: data, message: "Passkeys retrieved", count: &n}, nil
	}, nil
}

// objectField accepts a JSON object (not null) and keeps its raw bytes.
func objectField(name string, dst *[]byte, required bool) field {
	return field{name: name, required: required, decode: func(raw json.RawMessage) error {
		if len(raw) == 0 || raw[0] != '{' {
			return security.Invalid(name, "must be an object")
		}
		*dst = raw
		return nil
	}}
}

func (c *call) passkeyClient() passkey.Client {
	return passkey.Client{IP: c.ip, UserAgent: c.r.UserAgent()}
}

// passkeyRefused maps a refused ceremony to its 400.
func passkeyRefused(err error) error {
	if errors.Is(err, passkey.ErrRefused) {
		return &httpError{status: http.StatusBadRequest, code: CodePasskeyRefused,
			message: "The passkey could not be verified; start again"}
	}
	return err
}

// changePasskeys serves POST /api/security/passkeys: register_begin,
// register_finish and remove.
func (h *Handler) changePasskeys(c *call) (func() (reply, error), error) {
	action, actionField, err := c.action()
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	switch action {
	case "register_begin":
		if err := c.bind(actionField); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			opts, err := h.passkeys.BeginRegistration(ctx, c.auth.Principal, c.auth.Session.ID, c.passkeyClient())
			if err != nil {
				return reply{}, describe(err, security.ErrConflict, "You have the most passkeys allowed; remove one first")
			}
			return reply{data: ceremonyJSON{CeremonyID: opts.CeremonyID, Options: opts.PublicKey},
				message: "Passkey registration started"}, nil
		}, nil
	case "register_finish":
		var ceremony, name string
		var cred []byte
		if err := c.bind(actionField, stringField("ceremony_id", &ceremony, true), stringField("name", &name, false),
			objectField("credential", &cred, true)); err != nil {
			return nil, err
		}
		if !security.ValidID(passkey.CeremonyPrefix, ceremony) {
			return nil, security.Invalid("ceremony_id", "must be a ceremony id (pkc_…)")
		}
		if _, err := passkey.CheckName(name); err != nil {
			return nil, err
		}
		if err := passkey.CheckRegistrationResponse(cred); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			p, err := h.passkeys.FinishRegistration(ctx, passkey.Registration{CeremonyID: ceremony, Actor: c.auth,
				Client: c.passkeyClient(), Name: name, Response: cred})
			if err != nil {
				return reply{}, passkeyRefused(describe(err, security.ErrConflict, "This passkey is registered already"))
			}
			return reply{data: passkeyData(p), message: "Passkey registered"}, nil
		}, nil
	case "remove":
		var id, password, code string
		if err := c.bind(actionField, stringField("credential_id", &id, true), stringField("password", &password, false),
			stringField("code", &code, false)); err != nil {
			return nil, err
		}
		raw, err := passkey.ParseCredentialID(id)
		if err != nil {
			return nil, err
		}
		return func() (reply, error) {
			if err := h.confirm(ctx, c, session.FactorProof{Password: password, Code: code}, "remove_passkey"); err != nil {
				return reply{}, err
			}
			if err := h.passkeys.Remove(ctx, c.auth, raw, c.passkeyClient()); err != nil {
				return reply{}, describe(err, security.ErrNotFound, "Passkey not found")
			}
			return reply{message: "Passkey removed"}, nil
		}, nil
	default:
		return nil, security.Invalid("action", "must be register_begin, register_finish or remove")
	}
}

// confirm checks the caller's password or code before a change of their
// factors: a wrong one is a 400 naming it, not the 401 of a failed login.
func (h *Handler) confirm(ctx context.Context, c *call, p session.FactorProof, action string) error {
	_, err := h.sessions.ConfirmIdentity(ctx, c.auth, p, c.ip, action)
	var ve *session.VerificationError
	switch {
	case errors.As(err, &ve):
		return security.Invalid("code", "is incorrect")
	case errors.Is(err, security.ErrInvalidCredentials):
		return security.Invalid("password", "is incorrect")
	}
	return err
}

// verifyByPasskey serves POST /api/security/passkey-verification: begin
// (options for navigator.credentials.get, bound to the verification) and
// finish (completes the login as POST /api/security/verify-login would).
// It needs no session: the verification id, bound to the login's IP and
// user agent, stands for it.
func (h *Handler) verifyByPasskey(c *call) (func() (reply, error), error) {
	action, actionField, err := c.action()
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	var ver string
	verField := stringField("verification_id", &ver, true)
	switch action {
	case "begin":
		if err := c.bind(actionField, verField); err != nil {
			return nil, err
		}
		if !session.ValidVerificationID(ver) {
			return nil, security.Invalid("verification_id", "must be a verification id (ver_…)")
		}
		return func() (reply, error) {
			v, err := h.sessions.LookupVerification(ctx, ver, c.ip, c.r.UserAgent())
			if err != nil {
				return reply{}, verifyError(err)
			}
			if !slices.Contains(v.Methods, passkey.MethodName) {
				return reply{}, security.Invalid("verification_id", "cannot be completed with a passkey")
			}
			opts, err := h.passkeys.BeginAssertion(ctx, v.UserID, passkey.VerificationBinding(ver), c.passkeyClient())
			if err != nil {
				return reply{}, err
			}
			return reply{data: ceremonyJSON{CeremonyID: opts.CeremonyID, Options: opts.PublicKey},
				message: "Passkey verification started"}, nil
		}, nil
	case "finish":
		var ceremony string
		var cred []byte
		if err := c.bind(actionField, verField, stringField("ceremony_id", &ceremony, true),
			objectField("credential", &cred, true)); err != nil {
			return nil, err
		}
		switch {
		case !session.ValidVerificationID(ver):
			return nil, security.Invalid("verification_id", "must be a verification id (ver_…)")
		case !security.ValidID(passkey.CeremonyPrefix, ceremony):
			return nil, security.Invalid("ceremony_id", "must be a ceremony id (pkc_…)")
		}
		if err := passkey.CheckAssertionResponse(cred); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			req := session.VerifyRequest{ID: ver, IP: c.ip, UserAgent: c.r.UserAgent()}
			res, err := h.sessions.CompleteVerification(ctx, req, passkey.MethodName,
				func(ctx context.Context, v session.PendingVerification) (bool, error) {
					used, err := h.passkeys.FinishAssertion(ctx, passkey.Assertion{CeremonyID: ceremony,
						Binding: passkey.VerificationBinding(ver), Client: c.passkeyClient(), Response: cred})
					switch {
					case errors.Is(err, passkey.ErrRefused):
						return false, nil
					case err != nil:
						return false, err
					}
					return used.UserID == v.UserID, nil
				})
			if err != nil {
				return reply{}, verifyError(err)
			}
			return h.loginReply(c.w, res), nil
		}, nil
	default:
		return nil, security.Invalid("action", "must be begin or finish")
	}
}

// loginByPasskey serves POST /api/security/passkey-login: begin (options
// for navigator.credentials.get naming no user) and finish (+ceremony_id,
// credential, kind: "web", the default, or "mobile"), which answers as a
// login does: the session cookie and the principal, or the bearer token. A
// refused assertion is the 401 invalid_credentials of a failed login.
func (h *Handler) loginByPasskey(c *call) (func() (reply, error), error) {
	action, actionField, err := c.action()
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	switch action {
	case "begin":
		if err := c.bind(actionField); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			opts, err := h.passkeys.BeginLogin(ctx, c.passkeyClient())
			if err != nil {
				return reply{}, err
			}
			return reply{data: ceremonyJSON{CeremonyID: opts.CeremonyID, Options: opts.PublicKey},
				message: "Passkey login started"}, nil
		}, nil
	case "finish":
		var ceremony, kind string
		var cred []byte
		if err := c.bind(actionField, stringField("ceremony_id", &ceremony, true), objectField("credential", &cred, true),
			stringField("kind", &kind, false)); err != nil {
			return nil, err
		}
		switch kind {
		case "", string(session.KindWeb):
			kind = string(session.KindWeb)
		case string(session.KindMobile):
		default:
			return nil, security.Invalid("kind", "must be web or mobile")
		}
		if !security.ValidID(passkey.CeremonyPrefix, ceremony) {
			return nil, security.Invalid("ceremony_id", "must be a ceremony id (pkc_…)")
		}
		if err := passkey.CheckAssertionResponse(cred); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			used, err := h.passkeys.FinishLogin(ctx, passkey.Login{CeremonyID: ceremony, Client: c.passkeyClient(),
				Response: cred})
			if errors.Is(err, passkey.ErrRefused) {
				return reply{}, &publicError{err: security.ErrInvalidCredentials, message: "The passkey could not be verified"}
			}
			if err != nil {
				return reply{}, err
			}
			res, err := h.sessions.LoginWithFactor(ctx, session.FactorLogin{UserID: used.UserID, Method: passkey.MethodName,
				Kind: session.Kind(kind), IP: c.ip, UserAgent: c.r.UserAgent()})
			if err != nil {
				return reply{}, err
			}
			return h.loginReply(c.w, res), nil
		}, nil
	default:
		return nil, security.Invalid("action", "must be begin or finish")
	}
}
