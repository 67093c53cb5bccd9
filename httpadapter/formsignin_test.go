package httpadapter_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// FormSignIn keeps a sign-in that needs verification on its own pages:
// the login goes to its verify page (not Config.VerifyPage), a wrong code
// comes back there with the attempts left, a right one sets the cookie and
// goes to afterLogin, and a used-up verification goes to its login page.
func TestFormSignIn(t *testing.T) {
	m := &codeMailer{}
	a := newHostApp(t, verifyOptions(m))
	login, verify, err := a.h.FormSignIn("/app/", "/app/verify", "/app/home")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.h.Register(mux)
	mux.Handle("POST /app/login", login)
	mux.Handle("POST /app/verify", verify)
	a.serve(mux)
	a.login(customerID, session.KindWeb) // a known IP, so the next one is new
	post := func(path string, v url.Values) rawResponse {
		return a.raw(a.hostReq("POST", path, v, "", "Accept", htmlAccept))
	}
	r := post("/app/login", creds(customerID, ""))
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || err != nil || loc.Path != "/app/verify" || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("form login: %d to %q", r.status, r.header.Get("Location"))
	}
	id := loc.Query().Get("verification_id")
	a.addSecret(id)
	r = post("/app/verify", url.Values{"verification_id": {id}, "code": {wrongCode(m.last(t))}})
	if got := r.header.Get("Location"); r.status != 303 ||
		got != "/app/verify?attempts_left=4&error=verification_failed&verification_id="+id {
		t.Fatalf("wrong code: %d to %q", r.status, got)
	}
	r = post("/app/verify", url.Values{"verification_id": {id}, "code": {m.last(t)}})
	if c, ok := r.cookie(cookieName); r.status != 303 || r.header.Get("Location") != "/app/home" || !ok || c.Value == "" {
		t.Fatalf("right code: %d to %q", r.status, r.header.Get("Location"))
	}
	r = post("/app/verify", url.Values{"verification_id": {id}, "code": {m.last(t)}})
	if got := r.header.Get("Location"); r.status != 303 || !strings.HasPrefix(got, "/app/?error=verification_failed") {
		t.Fatalf("used up: %d to %q", r.status, got)
	}
	// Not a form: 415; cross-site: 403.
	if r := a.raw(a.hostReq("POST", "/app/verify", nil, "")); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("no form: %d", r.status)
	}
	r = a.raw(a.hostReq("POST", "/app/verify", url.Values{"verification_id": {id}, "code": {"1"}}, "",
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"))
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-site: %d", r.status)
	}
	for _, pages := range [][3]string{{"https://evil.example/", "/v", "/"}, {"/l", "/v?x=1", "/"}, {"/l", "//evil.example", "/"},
		{"/l", "/v", "https://evil.example/"}} {
		if _, _, err := a.h.FormSignIn(pages[0], pages[1], pages[2]); err == nil {
			t.Errorf("FormSignIn%q accepted", pages)
		}
	}
}

// ProtectEnrolment lets a restricted session (a staff user who must enrol
// a second factor) post, with the CSRF check; Protect refuses it.
func TestProtectEnrolment(t *testing.T) {
	a := newHostApp(t, factorKey, func(c *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
		c.RequireStaffSecondFactor = true
	})
	posted := 0
	enrol := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if au, ok := httpadapter.AuthFrom(r.Context()); !ok || !au.Restricted {
			t.Error("not the restricted session")
		}
		if r.Method == http.MethodPost {
			posted++
		}
		w.Write([]byte(`<form method=post>` + string(httpadapter.CSRFField(r)) + `</form><meta name=csrf content="` +
			httpadapter.CSRFToken(r) + `">`))
	})
	mux := http.NewServeMux()
	a.h.Register(mux)
	mux.Handle("/enrol", a.h.ProtectEnrolment(enrol))
	mux.Handle("/other", a.h.Protect(enrol))
	a.serve(mux)
	cookie, _ := a.login(adminID, session.KindWeb)
	page := a.raw(a.hostReq("GET", "/enrol", nil, cookie))
	tok := tokenInPage.FindStringSubmatch(page.body)
	if tok == nil {
		t.Fatalf("no token: %s", page.body)
	}
	form := url.Values{"csrf_token": {tok[1]}}
	if r := a.raw(a.hostReq("POST", "/other", form, cookie)); r.status != http.StatusForbidden || posted != 0 {
		t.Fatalf("Protect let a restricted session post: %d", r.status)
	}
	if r := a.raw(a.hostReq("POST", "/enrol", url.Values{}, cookie)); r.status != http.StatusForbidden || posted != 0 {
		t.Fatalf("ProtectEnrolment without a token: %d", r.status)
	}
	if r := a.raw(a.hostReq("POST", "/enrol", form, cookie)); r.status != http.StatusOK || posted != 1 {
		t.Fatalf("ProtectEnrolment: %d %s", r.status, r.body)
	}
}
