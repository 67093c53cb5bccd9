package httpadapter_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"
	"time"

	qr "github.com/piglig/go-qr"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func factorKey(c *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
	c.FactorKey = testFactorKey
}

// mfaPost is a POST /api/security/mfa as bearer with fields and a fresh
// CSRF token.
func (e *env) mfaPost(bearer string, fields map[string]any) request {
	e.t.Helper()
	return e.csrfPost("/api/security/mfa", bearer, fields)
}

// enrolTOTP enrols and confirms TOTP as bearer over HTTP and returns the
// secret and recovery codes.
func (e *env) enrolTOTP(t *testing.T, bearer string) (string, []string) {
	t.Helper()
	r := e.do(e.mfaPost(bearer, map[string]any{"action": "enroll_totp"}))
	r.ok(t, "TOTP enrolment started: confirm it with a code of your app")
	secret, uri := r.data()["secret"].(string), r.data()["otpauth_uri"].(string)
	e.addSecret(secret)
	img, err := base64.StdEncoding.DecodeString(r.data()["qr_png"].(string))
	if err != nil {
		t.Fatal(err)
	}
	pic, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("qr_png is not a PNG: %v", err)
	}
	if got, err := qr.Decode(pic); err != nil || got != uri {
		t.Fatalf("the QR code reads %q (%v), want the otpauth URI %q", got, err, uri)
	}
	code, err := session.TOTPCode(secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r = e.do(e.mfaPost(bearer, map[string]any{"action": "confirm_totp", "code": code}))
	r.ok(t, "TOTP enabled: store these recovery codes now, they are shown once")
	var codes []string
	for _, c := range r.data()["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
		e.addSecret(c.(string))
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	return secret, codes
}

func TestMFAEnrolAndLogin(t *testing.T) {
	e := newEnv(t, factorKey)
	bearer := e.bearer(victimID)
	st := e.do(request{method: "GET", path: "/api/security/mfa", bearer: bearer})
	st.ok(t, "Second factors retrieved")
	if st.data()["recovery_codes_left"] != float64(0) || len(st.data()["methods"].([]any)) != 0 {
		t.Fatalf("status %s", st.raw)
	}
	secret, codes := e.enrolTOTP(t, bearer)
	st = e.do(request{method: "GET", path: "/api/security/mfa", bearer: bearer})
	if st.data()["recovery_codes_left"] != float64(10) || st.data()["methods"].([]any)[0] != "totp" {
		t.Fatalf("status %s", st.raw)
	}

	// Every login now asks for the code.
	id := e.pendingLogin(t, loginRequest(victimID))
	e.clock.Advance(30 * time.Second)
	code, _ := session.TOTPCode(secret, e.clock.Now())
	e.do(verifyRequest(id, code)).ok(t, "Logged in")
	id = e.pendingLogin(t, loginRequest(victimID))
	verifyRefused(t, e.do(verifyRequest(id, code)), 4) // replayed
	e.do(verifyRequest(id, codes[0])).ok(t, "Logged in")

	// Regenerate with a recovery code, then remove with the password.
	r := e.do(e.mfaPost(bearer, map[string]any{"action": "regenerate_recovery_codes", "code": codes[1]}))
	if r.status != 200 || len(r.data()["recovery_codes"].([]any)) != 10 {
		t.Fatalf("regenerate: %d %s", r.status, r.raw)
	}
	for _, c := range r.data()["recovery_codes"].([]any) {
		e.addSecret(c.(string))
	}
	e.refuseCounted(t, e.mfaPost(bearer, map[string]any{"action": "remove", "code": codes[2]}))
	e.do(e.mfaPost(bearer, map[string]any{"action": "remove", "password": password(victimID)})).ok(t,
		"Second factor and recovery codes removed")
	if r := e.do(loginRequest(victimID)); r.status != 200 {
		t.Fatalf("login after removal: %d %s", r.status, r.raw)
	}
}

func TestMFARefusals(t *testing.T) {
	e := newEnv(t, factorKey)
	bearer := e.bearer(victimID)
	e.refuse(t, request{method: "POST", path: "/api/security/mfa", bearer: bearer, body: `{"action":"enroll_totp"}`},
		403, "csrf_invalid")
	e.refuse(t, request{method: "GET", path: "/api/security/mfa"}, 401, "unauthenticated")
	e.refuse(t, request{method: "GET", path: "/api/security/mfa?x=1", bearer: bearer}, 400, "invalid_request")
	for name, fields := range map[string]map[string]any{
		"no action":         {},
		"unknown action":    {"action": "enroll_sms"},
		"action type":       {"action": 1},
		"extra field":       {"action": "enroll_totp", "code": "123456"},
		"confirm no code":   {"action": "confirm_totp"},
		"confirm long code": {"action": "confirm_totp", "code": strings.Repeat("1", 65)},
		"remove no proof":   {"action": "remove"},
		"remove both":       {"action": "remove", "password": "x", "code": "123456"},
		"remove long pw":    {"action": "remove", "password": strings.Repeat("x", 1025)},
		"regenerate long":   {"action": "regenerate_recovery_codes", "code": strings.Repeat("1", 65)},
	} {
		t.Run(name, func(t *testing.T) {
			e.refuse(t, e.mfaPost(bearer, fields), 400, "invalid_request")
		})
	}
	// Domain refusals, each recorded or not as its own rule says.
	r := e.do(e.mfaPost(bearer, map[string]any{"action": "confirm_totp", "code": "123456"}))
	r.refused(t, 404, "not_found")
	r = e.do(e.mfaPost(bearer, map[string]any{"action": "regenerate_recovery_codes", "password": password(victimID)}))
	r.refused(t, 409, "conflict")
	e.do(e.mfaPost(bearer, map[string]any{"action": "enroll_totp"})).ok(t, "TOTP enrolment started: confirm it with a code of your app")
	e.refuse(t, e.mfaPost(bearer, map[string]any{"action": "confirm_totp", "code": "12345"}), 400, "invalid_request")
	e.refuseCounted(t, e.mfaPost(bearer, map[string]any{"action": "remove", "password": "wrong"}))

	noKey := newEnv(t)
	nb := noKey.bearer(victimID)
	noKey.refuse(t, noKey.mfaPost(nb, map[string]any{"action": "enroll_totp"}), 503, "unavailable")
}

func TestRestrictedStaffSession(t *testing.T) {
	a := newHostApp(t, factorKey, func(c *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
		c.RequireStaffSecondFactor = true
	})
	e := a.env
	r := e.do(request{method: "POST", path: "/api/security/mobile-auth",
		body: jsonBody(map[string]string{"email": email(adminID), "password": password(adminID)})})
	r.ok(t, "Mobile authentication token issued")
	if r.data()["second_factor_required"] != true {
		t.Fatalf("login: %s", r.raw)
	}
	bearer := r.data()["token"].(string)
	for _, rq := range []request{
		{method: "GET", path: "/api/security/sessions?action=list", bearer: bearer},
		{method: "GET", path: "/api/admin/security-report", bearer: bearer},
		{method: "POST", path: "/api/security/sessions", bearer: bearer, body: `{"action":"terminate","session_id":"sess_aaaaaaaaaaaaaaaaaaaa"}`},
	} {
		before := e.snap()
		r := e.do(rq)
		if r.status == 404 {
			continue // not served by this env
		}
		r.refused(t, 403, httpadapter.CodeSecondFactorRequired)
		e.unchanged(t, before)
	}
	if r := a.raw(a.hostReq("GET", "/api/notes", nil, "", "Authorization", "Bearer "+bearer)); r.status != 403 ||
		!strings.Contains(r.body, httpadapter.CodeSecondFactorRequired) {
		t.Fatalf("host route: %d %s", r.status, r.body)
	}
	st := e.do(request{method: "GET", path: "/api/security/mfa", bearer: bearer})
	if st.data()["restricted"] != true || st.data()["second_factor_required"] != true {
		t.Fatalf("status %s", st.raw)
	}
	e.enrolTOTP(t, bearer)
	e.do(request{method: "GET", path: "/api/security/sessions?action=list", bearer: bearer}).ok(t, "Sessions retrieved")
	// A customer is never restricted.
	cust := e.bearer(customerID)
	e.do(request{method: "DELETE", path: "/api/security/mobile-auth", bearer: cust}).ok(t, "Token revoked")
}

// refuseCounted sends a second-factor change with a wrong password or code
// and asserts a 400 that changed nothing but recording the counted
// attempt (second_factor_failed).
func (e *env) refuseCounted(t *testing.T, rq request) {
	t.Helper()
	before := e.snap()
	r := e.do(rq)
	r.refused(t, 400, "invalid_request")
	after := e.snap()
	if n := len(before.Events); len(after.Events) != n+1 || !strings.HasPrefix(after.Events[n], string(security.EventSecondFactorFailed)) {
		t.Fatalf("want one second_factor_failed event, got %v", after.Events[n:])
	}
	after.Events = before.Events
	e.compare(t, before, after)
}
