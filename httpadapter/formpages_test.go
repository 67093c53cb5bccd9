package httpadapter_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/propops/propsec/httpadapter"
)

// FormLogin and FormLogout are the form login and logout of POST /login
// and /logout with pages of the caller's: refusals go back to its sign-in
// page, not Config.LoginPage.
func TestSecondFormLogin(t *testing.T) {
	a := newHostApp(t)
	login, err := a.h.FormLogin("/staff/", "/staff/home")
	if err != nil {
		t.Fatal(err)
	}
	logout, err := a.h.FormLogout("/staff/?bye=1")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.h.Register(mux)
	mux.Handle("/staff/login", login)
	mux.Handle("/staff/logout", logout)
	mux.Handle("/notes", a.h.RequireLogin(a.h.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<form method=post>" + string(httpadapter.CSRFField(r)) + "</form><meta name=csrf content=\"" +
			httpadapter.CSRFToken(r) + "\">"))
	}))))
	a.serve(mux)
	post := func(path string, v url.Values, cookie string, header ...string) rawResponse {
		return a.raw(a.hostReq("POST", path, v, cookie, append([]string{"Accept", htmlAccept}, header...)...))
	}

	r := post("/staff/login", url.Values{"email": {email(victimID)}, "password": {"nope"}, "next": {"/staff/x"}}, "")
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || loc.Path != "/staff/" || loc.Query().Get("error") != "invalid_credentials" ||
		loc.Query().Get("next") != "/staff/x" {
		t.Fatalf("wrong password: %d %q", r.status, loc)
	}
	r = post("/staff/login", creds(victimID, ""), "")
	c, ok := r.cookie(cookieName)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/staff/home" || !ok {
		t.Fatalf("no next: %d %v", r.status, r.header)
	}
	r = post("/staff/login", creds(victimID, "/staff/x?y=1"), "")
	if r.header.Get("Location") != "/staff/x?y=1" {
		t.Fatalf("next: %v", r.header)
	}
	before := a.snap()
	r = post("/staff/login", creds(victimID, ""), "", "Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-site: %d", r.status)
	}
	a.unchanged(t, before)
	req := a.hostReq("POST", "/staff/login", nil, "", "Content-Type", "application/json")
	req.Body = http.NoBody
	if r := a.raw(req); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("JSON body: %d", r.status)
	}
	if r := a.raw(a.hostReq("GET", "/staff/login", nil, "")); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.status)
	}

	tok := a.pageToken(c.Value)
	if r := post("/staff/logout", url.Values{}, c.Value); r.status != http.StatusForbidden {
		t.Fatalf("logout without a token: %d", r.status)
	}
	r = post("/staff/logout", url.Values{"csrf_token": {tok}}, c.Value)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/staff/?bye=1" {
		t.Fatalf("logout: %d %v", r.status, r.header)
	}
	if r := a.raw(a.hostReq("GET", "/notes", nil, c.Value, "Accept", htmlAccept)); r.status != http.StatusSeeOther {
		t.Fatalf("the session outlived its logout: %d", r.status)
	}

	for _, bad := range [][2]string{{"https://evil.example/", "/"}, {"/staff/?x=1", "/"}, {"/staff/", "//evil.example"}} {
		if _, err := a.h.FormLogin(bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), "FormLogin") {
			t.Errorf("FormLogin(%q, %q): %v", bad[0], bad[1], err)
		}
	}
	if _, err := a.h.FormLogout("javascript:alert(1)"); err == nil {
		t.Error("FormLogout took a script URL")
	}
}
