package httpadapter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/internal/webauthntest"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// pkOrigin is the origin the software authenticator's client reports.
const pkOrigin = "http://localhost:8080"

// pkAgent is the user agent of every passkey request: verifications are
// bound to the login's.
const pkAgent = "passkey-test/1.0"

// withPasskeys serves the passkey endpoints, and offers passkeys at login.
func withPasskeys(svc **passkey.Service) envOption {
	return func(s *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		pk, err := passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "propsec test",
			RPOrigins: []string{pkOrigin}, Store: s.Store.(passkey.Store), Clock: s.Clock})
		if err != nil {
			panic(err)
		}
		s.Methods = append(s.Methods, pk)
		h.Passkeys = pk
		*svc = pk
	}
}

type pkEnv struct {
	*env
	svc *passkey.Service
}

func newPKEnv(t *testing.T) *pkEnv {
	p := &pkEnv{}
	p.env = newEnv(t, withPasskeys(&p.svc))
	return p
}

// refuse sends rq and asserts that it is refused with status and code and
// that it changed nothing but audit events of refusals (a refused passkey,
// a failed verification attempt).
func (e *pkEnv) refuse(t *testing.T, rq request, status int, code string) response {
	t.Helper()
	before := e.snap()
	r := e.do(rq)
	if code == httpadapter.CodeVerificationFailed {
		// Its data says how many attempts are left.
		if _, ok := r.data()["attempts_left"].(float64); r.status != status || r.body["error"] != code || !ok {
			t.Fatalf("got %d %s, want %d %q with attempts_left", r.status, r.raw, status, code)
		}
	} else {
		r.refused(t, status, code)
	}
	after := e.snap()
	var kept []string
	for i, ev := range after.Events {
		if i < len(before.Events) || !(strings.HasPrefix(ev, string(passkey.EventRefused)) ||
			strings.HasPrefix(ev, string(security.EventVerificationFailed))) {
			kept = append(kept, ev)
		}
	}
	after.Events = kept
	e.compare(t, before, after)
	return r
}

func pkHeader() http.Header { return http.Header{"User-Agent": {pkAgent}} }

// passkeysPost is a POST /api/security/passkeys as bearer with fields and a
// fresh CSRF token.
func (e *pkEnv) passkeysPost(bearer string, fields map[string]any) request {
	e.t.Helper()
	f := map[string]any{"csrf_token": e.csrfToken(bearer)}
	for k, v := range fields {
		f[k] = v
	}
	return request{method: "POST", path: httpadapter.PasskeysPath, bearer: bearer, body: jsonBody(f), header: pkHeader()}
}

func options(t *testing.T, r response) (ceremony string, opts []byte) {
	t.Helper()
	d := r.data()
	raw, err := json.Marshal(d["options"])
	if err != nil {
		t.Fatal(err)
	}
	return d["ceremony_id"].(string), raw
}

// register registers a passkey of auth for bearer's user.
func (e *pkEnv) register(t *testing.T, bearer string, auth *webauthntest.Authenticator) map[string]any {
	t.Helper()
	r := e.do(e.passkeysPost(bearer, map[string]any{"action": "register_begin"}))
	r.ok(t, "Passkey registration started")
	cer, opts := options(t, r)
	cred, err := auth.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	r = e.do(e.passkeysPost(bearer, map[string]any{"action": "register_finish", "ceremony_id": cer, "name": "laptop",
		"credential": json.RawMessage(cred)}))
	r.ok(t, "Passkey registered")
	return r.data()
}

// pendingLogin logs user in (kind) through POST /login or
// /api/security/mobile-auth, and returns the verification the login waits
// for (its 202).
func (e *pkEnv) pendingLogin(t *testing.T, user int64, kind session.Kind) string {
	t.Helper()
	path := "/login"
	if kind == session.KindMobile {
		path = "/api/security/mobile-auth"
	}
	r := e.do(request{method: "POST", path: path, header: pkHeader(),
		body: jsonBody(map[string]string{"email": email(user), "password": password(user)})})
	d := r.data()
	if r.status != http.StatusAccepted || d["verification_required"] != true || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("login of a user with a passkey: %d %s", r.status, r.raw)
	}
	methods, _ := d["methods"].([]any)
	if !slices.Contains(methods, any(passkey.MethodName)) {
		t.Fatalf("methods %v lack passkey", methods)
	}
	return d["verification_id"].(string)
}

func pkVerifyRequest(fields map[string]any) request {
	return request{method: "POST", path: httpadapter.PasskeyVerificationPath, body: jsonBody(fields), header: pkHeader()}
}

// beginVerification begins the passkey assertion of ver, and has auth
// answer it.
func (e *pkEnv) beginVerification(t *testing.T, ver string, auth *webauthntest.Authenticator) map[string]any {
	t.Helper()
	r := e.do(pkVerifyRequest(map[string]any{"action": "begin", "verification_id": ver}))
	r.ok(t, "Passkey verification started")
	cer, opts := options(t, r)
	cred, err := auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"action": "finish", "verification_id": ver, "ceremony_id": cer, "credential": json.RawMessage(cred)}
}

func TestPasskeySecondFactor(t *testing.T) {
	e := newPKEnv(t)
	auth := webauthntest.New(pkOrigin)
	bearer := e.bearer(victimID)
	pk := e.register(t, bearer, auth)
	if pk["name"] != "laptop" || pk["last_used_at"] != nil || pk["clone_warning"] != false {
		t.Fatalf("registered passkey: %v", pk)
	}
	r := e.do(request{method: "GET", path: httpadapter.PasskeysPath, bearer: bearer})
	r.ok(t, "Passkeys retrieved")
	if len(r.list()) != 1 || r.body["count"] != 1.0 {
		t.Fatalf("list: %s", r.raw)
	}

	t.Run("web login", func(t *testing.T) {
		ver := e.pendingLogin(t, victimID, session.KindWeb)
		finish := e.beginVerification(t, ver, auth)
		r := e.do(pkVerifyRequest(finish))
		r.ok(t, "Logged in")
		if r.data()["user_id"] != float64(victimID) || r.header.Get("Set-Cookie") == "" {
			t.Fatalf("verified web login: %s (cookie %q)", r.raw, r.header.Get("Set-Cookie"))
		}
		// The same assertion again: the verification is gone.
		e.refuse(t, pkVerifyRequest(finish), http.StatusUnauthorized, httpadapter.CodeVerificationFailed)
	})
	t.Run("mobile login", func(t *testing.T) {
		ver := e.pendingLogin(t, victimID, session.KindMobile)
		r := e.do(pkVerifyRequest(e.beginVerification(t, ver, auth)))
		r.ok(t, "Mobile authentication token issued")
		tok, _ := r.data()["token"].(string)
		if _, err := e.mgr.Authenticate(context.Background(), tok); err != nil {
			t.Fatalf("the token does not authenticate: %v", err)
		}
	})
}

func TestPasskeyVerificationRefusals(t *testing.T) {
	e := newPKEnv(t)
	auth := webauthntest.New(pkOrigin)
	e.register(t, e.bearer(victimID), auth)
	other := webauthntest.New(pkOrigin)
	e.register(t, e.bearer(customerID), other)

	for _, tc := range []struct {
		name   string
		status int
		code   string
		// finish returns the request to refuse.
		finish func(t *testing.T, ver string) request
	}{
		{"wrong origin", 401, httpadapter.CodeVerificationFailed, func(t *testing.T, ver string) request {
			evil := *auth
			evil.Origin = "http://localhost:9999"
			return pkVerifyRequest(e.beginVerification(t, ver, &evil))
		}},
		{"another user's passkey", 401, httpadapter.CodeVerificationFailed, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, ver, auth)
			var o struct {
				PublicKey struct {
					Challenge string `json:"challenge"`
				} `json:"publicKey"`
			}
			r := e.do(pkVerifyRequest(map[string]any{"action": "begin", "verification_id": ver}))
			_, opts := options(t, r)
			json.Unmarshal(opts, &o)
			cred, err := other.Sign(other.Keys()[0], o.PublicKey.Challenge)
			if err != nil {
				t.Fatal(err)
			}
			f["ceremony_id"], f["credential"] = r.data()["ceremony_id"], json.RawMessage(cred)
			return pkVerifyRequest(f)
		}},
		{"another user agent", 401, httpadapter.CodeVerificationFailed, func(t *testing.T, ver string) request {
			rq := pkVerifyRequest(e.beginVerification(t, ver, auth))
			rq.header = http.Header{"User-Agent": {"curl/8"}}
			return rq
		}},
		{"unknown verification", 401, httpadapter.CodeVerificationFailed, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, ver, auth)
			f["verification_id"] = "ver_" + strings.Repeat("a", 32)
			return pkVerifyRequest(f)
		}},
		{"a ceremony of another verification", 401, httpadapter.CodeVerificationFailed, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, e.pendingLogin(t, victimID, session.KindWeb), auth)
			f["verification_id"] = ver
			return pkVerifyRequest(f)
		}},
		{"malformed credential", 400, httpadapter.CodeInvalidRequest, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, ver, auth)
			f["credential"] = map[string]any{"id": "x"}
			return pkVerifyRequest(f)
		}},
		{"credential not an object", 400, httpadapter.CodeInvalidRequest, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, ver, auth)
			f["credential"] = "eyJ9"
			return pkVerifyRequest(f)
		}},
		{"malformed ceremony id", 400, httpadapter.CodeInvalidRequest, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, ver, auth)
			f["ceremony_id"] = ver
			return pkVerifyRequest(f)
		}},
		{"unknown member", 400, httpadapter.CodeInvalidRequest, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, ver, auth)
			f["user_id"] = victimID
			return pkVerifyRequest(f)
		}},
		{"too large", 413, httpadapter.CodeBodyTooLarge, func(t *testing.T, ver string) request {
			f := e.beginVerification(t, ver, auth)
			f["credential"] = map[string]any{"pad": strings.Repeat("x", httpadapter.MaxPasskeyVerificationBody)}
			return pkVerifyRequest(f)
		}},
		{"unknown action", 400, httpadapter.CodeInvalidRequest, func(t *testing.T, ver string) request {
			return pkVerifyRequest(map[string]any{"action": "skip", "verification_id": ver})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ver := e.pendingLogin(t, victimID, session.KindWeb)
			rq := tc.finish(t, ver)
			r := e.refuse(t, rq, tc.status, tc.code)
			if r.header.Get("Set-Cookie") != "" {
				t.Fatal("a refusal set a cookie")
			}
		})
	}
}

func TestPasskeyBeginRefusals(t *testing.T) {
	e := newPKEnv(t)
	// A verification of a user without a passkey (a TOTP user would do as
	// well) cannot be done with one: victim has none here, so the login
	// makes a session and there is nothing to begin.
	for name, tc := range map[string]struct {
		fields map[string]any
		status int
		code   string
	}{
		"unknown verification": {map[string]any{"action": "begin", "verification_id": "ver_" + strings.Repeat("b", 32)}, 401, httpadapter.CodeVerificationFailed},
		"malformed id":         {map[string]any{"action": "begin", "verification_id": "sess_x"}, 400, httpadapter.CodeInvalidRequest},
		"missing id":           {map[string]any{"action": "begin"}, 400, httpadapter.CodeInvalidRequest},
		"missing action":       {map[string]any{"verification_id": "ver_" + strings.Repeat("b", 32)}, 400, httpadapter.CodeInvalidRequest},
	} {
		t.Run(name, func(t *testing.T) { e.refuse(t, pkVerifyRequest(tc.fields), tc.status, tc.code) })
	}
}

func TestPasskeyRegistrationRefusals(t *testing.T) {
	e := newPKEnv(t)
	auth := webauthntest.New(pkOrigin)
	bearer := e.bearer(victimID)
	begin := func() (string, []byte) {
		r := e.do(e.passkeysPost(bearer, map[string]any{"action": "register_begin"}))
		r.ok(t, "Passkey registration started")
		return options(t, r)
	}
	cer, opts := begin()
	cred, err := auth.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	finish := map[string]any{"action": "register_finish", "ceremony_id": cer, "credential": json.RawMessage(cred)}
	// Another session of the same user cannot finish it.
	e.refuse(t, e.passkeysPost(e.bearer(victimID), finish), 400, httpadapter.CodePasskeyRefused)
	// The ceremony was used by that attempt.
	e.refuse(t, e.passkeysPost(bearer, finish), 400, httpadapter.CodePasskeyRefused)

	cer, opts = begin()
	evil := webauthntest.New("https://evil.example")
	cred, err = evil.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.refuse(t, e.passkeysPost(bearer, map[string]any{"action": "register_finish", "ceremony_id": cer,
		"credential": json.RawMessage(cred)}), 400, httpadapter.CodePasskeyRefused)

	for name, f := range map[string]map[string]any{
		"no credential":   {"action": "register_finish", "ceremony_id": cer},
		"name too long":   {"action": "register_finish", "ceremony_id": cer, "name": strings.Repeat("n", 65), "credential": json.RawMessage(cred)},
		"not a response":  {"action": "register_finish", "ceremony_id": cer, "credential": map[string]any{"id": "x"}},
		"bad ceremony id": {"action": "register_finish", "ceremony_id": "pkc_x", "credential": json.RawMessage(cred)},
		"unknown action":  {"action": "register"},
	} {
		t.Run(name, func(t *testing.T) { e.refuse(t, e.passkeysPost(bearer, f), 400, httpadapter.CodeInvalidRequest) })
	}
	t.Run("too large", func(t *testing.T) {
		e.refuse(t, e.passkeysPost(bearer, map[string]any{"action": "register_finish", "ceremony_id": cer,
			"credential": map[string]any{"pad": strings.Repeat("x", httpadapter.MaxPasskeysBody)}}), 413, httpadapter.CodeBodyTooLarge)
	})
	t.Run("no CSRF token", func(t *testing.T) {
		e.refuse(t, request{method: "POST", path: httpadapter.PasskeysPath, bearer: bearer,
			body: `{"action":"register_begin"}`}, 403, httpadapter.CodeCSRFInvalid)
	})
	t.Run("unauthenticated", func(t *testing.T) {
		e.refuse(t, request{method: "GET", path: httpadapter.PasskeysPath}, 401, httpadapter.CodeUnauthenticated)
	})
}

func TestPasskeyRemove(t *testing.T) {
	e := newPKEnv(t)
	auth := webauthntest.New(pkOrigin)
	bearer := e.bearer(victimID)
	id := e.register(t, bearer, auth)["credential_id"].(string)
	mine := e.bearer(customerID)
	for name, tc := range map[string]struct {
		bearer string
		fields map[string]any
		status int
		code   string
	}{
		"no proof":       {bearer, map[string]any{"action": "remove", "credential_id": id}, 400, httpadapter.CodeInvalidRequest},
		"wrong password": {bearer, map[string]any{"action": "remove", "credential_id": id, "password": "nope"}, 400, httpadapter.CodeInvalidRequest},
		"bad id":         {bearer, map[string]any{"action": "remove", "credential_id": "***", "password": password(victimID)}, 400, httpadapter.CodeInvalidRequest},
		"someone else's": {mine, map[string]any{"action": "remove", "credential_id": id, "password": password(customerID)}, 404, httpadapter.CodeNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			before := e.eventsOf(passkey.EventRemoved)
			r := e.do(e.passkeysPost(tc.bearer, tc.fields))
			r.refused(t, tc.status, tc.code)
			if e.eventsOf(passkey.EventRemoved) != before {
				t.Fatal("a refused removal removed a passkey")
			}
		})
	}
	e.do(e.passkeysPost(bearer, map[string]any{"action": "remove", "credential_id": id, "password": password(victimID)})).ok(t, "Passkey removed")
	r := e.do(request{method: "GET", path: httpadapter.PasskeysPath, bearer: bearer})
	r.ok(t, "Passkeys retrieved")
	if len(r.list()) != 0 {
		t.Fatalf("after removal: %s", r.raw)
	}
	// Without a passkey, the next login needs no verification.
	res, err := e.mgr.Login(context.Background(), session.LoginRequest{Email: email(victimID), Password: password(victimID),
		Kind: session.KindWeb, IP: netip.MustParseAddr("127.0.0.1"), UserAgent: pkAgent})
	if err != nil || res.Verification != nil {
		t.Fatalf("login after removal: %v %+v", err, res.Verification)
	}
}

// A staff session that must enrol a second factor may register a passkey,
// and is no longer restricted once it has.
func TestPasskeyEnrolsRestrictedStaff(t *testing.T) {
	p := &pkEnv{}
	p.env = newEnv(t, withPasskeys(&p.svc), func(c *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
		c.RequireStaffSecondFactor = true
	})
	r := p.do(request{method: "POST", path: "/api/security/mobile-auth", header: pkHeader(),
		body: jsonBody(map[string]string{"email": email(adminID), "password": password(adminID)})})
	r.ok(t, "Mobile authentication token issued")
	if r.data()["second_factor_required"] != true {
		t.Fatalf("login: %s", r.raw)
	}
	bearer := r.data()["token"].(string)
	list := request{method: "GET", path: "/api/security/sessions?action=list", bearer: bearer}
	p.do(list).refused(t, 403, httpadapter.CodeSecondFactorRequired)
	p.register(t, bearer, webauthntest.New(pkOrigin))
	p.do(list).ok(t, "Sessions retrieved")
	// And the next login asks for the passkey.
	p.pendingLogin(t, adminID, session.KindMobile)
}

func pkLoginRequest(fields map[string]any) request {
	return request{method: "POST", path: httpadapter.PasskeyLoginPath, body: jsonBody(fields), header: pkHeader()}
}

// beginLogin begins a usernameless login and has auth answer it.
func (e *pkEnv) beginLogin(t *testing.T, auth *webauthntest.Authenticator) map[string]any {
	t.Helper()
	r := e.do(pkLoginRequest(map[string]any{"action": "begin"}))
	r.ok(t, "Passkey login started")
	cer, opts := options(t, r)
	cred, err := auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"action": "finish", "ceremony_id": cer, "credential": json.RawMessage(cred)}
}

func TestPasskeyUsernamelessLogin(t *testing.T) {
	e := newPKEnv(t)
	auth := webauthntest.New(pkOrigin)
	e.register(t, e.bearer(victimID), auth)
	other := webauthntest.New(pkOrigin)
	e.register(t, e.bearer(customerID), other)

	t.Run("web", func(t *testing.T) {
		r := e.do(pkLoginRequest(e.beginLogin(t, auth)))
		r.ok(t, "Logged in")
		if r.data()["user_id"] != float64(victimID) || r.header.Get("Set-Cookie") == "" {
			t.Fatalf("passkey login: %s", r.raw)
		}
	})
	t.Run("mobile", func(t *testing.T) {
		f := e.beginLogin(t, other)
		f["kind"] = "mobile"
		r := e.do(pkLoginRequest(f))
		r.ok(t, "Mobile authentication token issued")
		a, err := e.mgr.Authenticate(context.Background(), r.data()["token"].(string))
		if err != nil || a.Principal.UserID != customerID {
			t.Fatalf("token: %+v %v", a, err)
		}
	})
	for name, tc := range map[string]struct {
		finish func(t *testing.T) request
		status int
		code   string
	}{
		"replayed": {func(t *testing.T) request {
			f := e.beginLogin(t, auth)
			e.do(pkLoginRequest(f)).ok(t, "Logged in")
			return pkLoginRequest(f)
		}, 401, httpadapter.CodeInvalidCredentials},
		"without user verification": {func(t *testing.T) request {
			a := *auth
			a.UserVerified = false
			return pkLoginRequest(e.beginLogin(t, &a))
		}, 401, httpadapter.CodeInvalidCredentials},
		"wrong origin": {func(t *testing.T) request {
			a := *auth
			a.Origin = "http://localhost:9999"
			return pkLoginRequest(e.beginLogin(t, &a))
		}, 401, httpadapter.CodeInvalidCredentials},
		"another user agent": {func(t *testing.T) request {
			rq := pkLoginRequest(e.beginLogin(t, auth))
			rq.header = http.Header{"User-Agent": {"curl/8"}}
			return rq
		}, 401, httpadapter.CodeInvalidCredentials},
		"bad kind": {func(t *testing.T) request {
			f := e.beginLogin(t, auth)
			f["kind"] = "desktop"
			return pkLoginRequest(f)
		}, 400, httpadapter.CodeInvalidRequest},
		"malformed credential": {func(t *testing.T) request {
			f := e.beginLogin(t, auth)
			f["credential"] = map[string]any{"id": "x"}
			return pkLoginRequest(f)
		}, 400, httpadapter.CodeInvalidRequest},
		"too large": {func(t *testing.T) request {
			f := e.beginLogin(t, auth)
			f["credential"] = map[string]any{"pad": strings.Repeat("x", httpadapter.MaxPasskeyVerificationBody)}
			return pkLoginRequest(f)
		}, 413, httpadapter.CodeBodyTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			rq := tc.finish(t)
			before := e.snap()
			r := e.do(rq)
			r.refused(t, tc.status, tc.code)
			if r.header.Get("Set-Cookie") != "" {
				t.Fatal("a refusal set a cookie")
			}
			after := e.snap()
			if len(after.Live) != len(before.Live) {
				t.Fatal("a refusal made a session")
			}
		})
	}
	t.Run("blacklisted", func(t *testing.T) {
		admin, _ := e.login(adminID, session.KindMobile)
		a, err := e.mgr.Authenticate(context.Background(), admin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.mgr.Blacklist(context.Background(), a, victimID, "test", netip.Addr{}); err != nil {
			t.Fatal(err)
		}
		e.do(pkLoginRequest(e.beginLogin(t, auth))).refused(t, 403, httpadapter.CodeAccountBlacklisted)
	})
}
