package httpadapter_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// authedRoutes are the requests that need a credential, without one.
func authedRoutes() map[string]request {
	return map[string]request{
		"csrf-token":      {method: "GET", path: "/api/security/csrf-token"},
		"sessions list":   {method: "GET", path: "/api/security/sessions?action=list"},
		"blacklist list":  {method: "GET", path: "/api/security/sessions?action=blacklist_list"},
		"sessions post":   {method: "POST", path: "/api/security/sessions", body: `{"action":"blacklist_remove","user_id":5}`},
		"revoke token":    {method: "DELETE", path: "/api/security/mobile-auth"},
		"logout get":      {method: "GET", path: "/logout"},
		"logout post":     {method: "POST", path: "/logout", body: `{}`},
		"terminate":       {method: "POST", path: "/api/security/sessions", body: `{"action":"terminate","session_id":"sess_aaaaaaaaaaaaaaaaaaaa"}`},
		"blacklist_add":   {method: "POST", path: "/api/security/sessions", body: `{"action":"blacklist_add","user_id":5,"reason":"x"}`},
		"host route auth": {method: "GET", path: "/host/whoami"},
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	expiredWeb, _ := e.login(victimID, session.KindWeb)
	e.clock.Advance(31 * time.Minute) // past the web idle timeout
	revoked, revokedID := e.login(victimID, session.KindMobile)
	e.post(e.bearer(adminID), map[string]any{"action": "terminate", "session_id": revokedID}).ok(t, "Session terminated")
	liveWeb, _ := e.login(victimID, session.KindWeb)
	upper := strings.ToUpper(e.bearer(victimID))

	creds := map[string]struct {
		header http.Header
		cookie string
	}{
		"none":                 {},
		"not bearer":           {header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
		"short":                {header: http.Header{"Authorization": {"Bearer abc123"}}},
		"uppercase hex":        {header: http.Header{"Authorization": {"Bearer " + upper}}},
		"two spaces":           {header: http.Header{"Authorization": {"Bearer  " + security.NewToken()}}},
		"trailing space":       {header: http.Header{"Authorization": {"Bearer " + security.NewToken() + " "}}},
		"scheme only":          {header: http.Header{"Authorization": {"Bearer"}}},
		"empty header":         {header: http.Header{"Authorization": {""}}},
		"two headers":          {header: http.Header{"Authorization": {"Bearer " + security.NewToken(), "Bearer " + security.NewToken()}}},
		"malformed wins":       {header: http.Header{"Authorization": {"Bearer nope"}}, cookie: liveWeb},
		"unknown bearer":       {header: http.Header{"Authorization": {"Bearer " + security.NewToken()}}},
		"revoked bearer":       {header: http.Header{"Authorization": {"Bearer " + revoked}}},
		"expired bearer":       {header: http.Header{"Authorization": {"Bearer " + expiredWeb}}},
		"unknown cookie":       {cookie: security.NewToken()},
		"expired cookie":       {cookie: expiredWeb},
		"malformed cookie":     {cookie: "not-a-token"},
		"cookie, wrong name":   {header: http.Header{"Cookie": {"session=" + liveWeb}}},
		"two cookies":          {header: http.Header{"Cookie": {"__Host-propsec_session=" + liveWeb + "; __Host-propsec_session=" + security.NewToken()}}},
		"bearer in cookie box": {header: http.Header{"Cookie": {"Authorization=Bearer " + liveWeb}}},
	}
	for cname, c := range creds {
		for rname, rq := range authedRoutes() {
			t.Run(cname+"/"+rname, func(t *testing.T) {
				rq.header, rq.cookie = c.header.Clone(), c.cookie
				if rname == "logout get" { // its same-origin check comes before authentication
					if rq.header == nil {
						rq.header = http.Header{}
					}
					rq.header.Set("Sec-Fetch-Site", "same-origin")
				}
				r := e.refuse(t, rq, http.StatusUnauthorized, "unauthenticated")
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
}

func TestForbidden(t *testing.T) {
	e := newEnv(t)
	_, victimSess := e.login(victimID, session.KindWeb)
	customer := e.bearer(customerID)
	staff := e.bearer(staffID)
	lister := e.bearer(listerID)

	t.Run("non-staff", func(t *testing.T) {
		csrf := e.csrfToken(customer)
		for name, rq := range map[string]request{
			"list":             {method: "GET", path: "/api/security/sessions?action=list"},
			"blacklist_list":   {method: "GET", path: "/api/security/sessions?action=blacklist_list"},
			"terminate":        {method: "POST", path: "/api/security/sessions", body: jsonBody(map[string]any{"action": "terminate", "session_id": victimSess, "csrf_token": csrf})},
			"blacklist_add":    {method: "POST", path: "/api/security/sessions", body: jsonBody(map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "x", "csrf_token": csrf})},
			"blacklist_remove": {method: "POST", path: "/api/security/sessions", body: jsonBody(map[string]any{"action": "blacklist_remove", "user_id": victimID, "csrf_token": csrf})},
			"bad body":         {method: "POST", path: "/api/security/sessions", body: `{`},
		} {
			t.Run(name, func(t *testing.T) {
				rq.bearer = customer
				r := e.refuse(t, rq, http.StatusForbidden, "forbidden")
				if r.body["message"] != "Staff account required" {
					t.Fatalf("%s", r.raw)
				}
			})
		}
		// The staff check came before the CSRF check: the token is unused.
		e.do(request{method: "POST", path: "/logout", bearer: customer, body: jsonBody(map[string]string{"csrf_token": csrf})}).
			ok(t, "Logged out")
	})

	t.Run("missing permission", func(t *testing.T) {
		for name, c := range map[string]struct {
			bearer string
			rq     request
			fields map[string]any
		}{
			"list":                   {bearer: staff, rq: request{method: "GET", path: "/api/security/sessions?action=list"}},
			"blacklist_list":         {bearer: staff, rq: request{method: "GET", path: "/api/security/sessions?action=blacklist_list"}},
			"blacklist_list, lister": {bearer: lister, rq: request{method: "GET", path: "/api/security/sessions?action=blacklist_list"}},
			"terminate other":        {bearer: staff, fields: map[string]any{"action": "terminate", "session_id": victimSess}},
			"terminate, lister":      {bearer: lister, fields: map[string]any{"action": "terminate", "session_id": victimSess}},
			"blacklist_add":          {bearer: staff, fields: map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "x"}},
			"blacklist_add, lister":  {bearer: lister, fields: map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "x"}},
			"blacklist_remove":       {bearer: staff, fields: map[string]any{"action": "blacklist_remove", "user_id": victimID}},
		} {
			t.Run(name, func(t *testing.T) {
				rq := c.rq
				rq.bearer = c.bearer
				if c.fields != nil {
					rq = e.sessionsPost(c.bearer, c.fields)
				}
				e.refuse(t, rq, http.StatusForbidden, "forbidden")
			})
		}
	})
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	otherAdminSession := e.bearer(adminID)
	customer := e.bearer(customerID)
	add := map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "x"}
	body := func(token any) string {
		f := map[string]any{"csrf_token": token}
		for k, v := range add {
			f[k] = v
		}
		return jsonBody(f)
	}
	replayed := e.csrfToken(admin)
	e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin,
		body:                                        jsonBody(map[string]any{"action": "terminate", "session_id": security.NewID(session.IDPrefix), "csrf_token": replayed})}).
		refused(t, http.StatusNotFound, "not_found") // the token was used
	expired := e.csrfToken(admin)
	e.clock.Advance(11 * time.Minute) // past the CSRF TTL, within the bearer's idle timeout
	valid := e.csrfToken(admin)
	valid2 := e.csrfToken(admin)

	for name, rq := range map[string]request{
		"missing":             {body: jsonBody(add)},
		"empty":               {body: body("")},
		"malformed":           {body: body("abc")},
		"forged":              {body: body(randomHex(security.CSRFTokenLen))},
		"uppercase":           {body: body(strings.ToUpper(valid))},
		"foreign session":     {body: body(e.csrfToken(otherAdminSession))},
		"foreign user":        {body: body(e.csrfToken(customer))},
		"replayed":            {body: body(replayed)},
		"expired":             {body: body(expired)},
		"header and body":     {body: body(valid), header: http.Header{"X-Csrf-Token": {valid2}}},
		"two headers":         {body: jsonBody(add), header: http.Header{"X-Csrf-Token": {valid, valid}}},
		"forged header":       {body: jsonBody(add), header: http.Header{"X-Csrf-Token": {randomHex(security.CSRFTokenLen)}}},
		"empty header":        {body: jsonBody(add), header: http.Header{"X-Csrf-Token": {""}}},
		"header, body forged": {body: body(randomHex(security.CSRFTokenLen)), header: http.Header{"X-Csrf-Token": {valid}}},
	} {
		t.Run(name, func(t *testing.T) {
			rq.method, rq.path, rq.bearer = "POST", "/api/security/sessions", admin
			e.refuse(t, rq, http.StatusForbidden, "csrf_invalid")
		})
	}

	t.Run("header alone", func(t *testing.T) {
		e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin, body: jsonBody(add),
			header: http.Header{"X-Csrf-Token": {valid}}}).ok(t, "User blacklisted and all sessions terminated")
	})
	t.Run("header and body equal", func(t *testing.T) {
		e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin,
			body:   jsonBody(map[string]any{"action": "blacklist_remove", "user_id": victimID, "csrf_token": valid2}),
			header: http.Header{"X-Csrf-Token": {valid2}}}).ok(t, "User removed from blacklist")
	})
}

func TestBadBody(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	_, victimSess := e.login(victimID, session.KindWeb)
	// One token for every case: a 400 comes before the CSRF check, so it
	// stays unused until the last request.
	csrf := e.csrfToken(admin)
	hdr := http.Header{"X-Csrf-Token": {csrf}}
	term := func(rest string) string {
		return `{"action":"terminate","session_id":"` + victimSess + `"` + rest + `}`
	}

	for name, c := range map[string]struct{ body, want string }{
		"not JSON":            {`action=terminate`, "JSON"},
		"empty":               {` `, "JSON"},
		"array":               {`[]`, "object"},
		"string":              {`"terminate"`, "object"},
		"null":                {`null`, "object"},
		"two objects":         {term(``) + `{}`, "after"},
		"trailing garbage":    {term(``) + `x`, "after"},
		"trailing comma":      {term(`,`), "JSON"},
		"unterminated":        {`{"action":"terminate"`, "JSON"},
		"duplicate":           {term(`,"action":"terminate"`), `"action"`},
		"escaped duplicate":   {term(`,"\u0061ction":"terminate"`), `"action"`},
		"case duplicate":      {term(`,"Action":"terminate"`), `case`},
		"case variant":        {`{"action":"terminate","Session_ID":"` + victimSess + `"}`, `Session_ID`},
		"kelvin variant":      {`{"action":"terminate","session_id":"` + victimSess + `","csrf_to\u212aen":"x"}`, `csrf_to`},
		"unknown field":       {term(`,"extra":1`), `"extra"`},
		"other action field":  {term(`,"reason":"x"`), `"reason"`},
		"no action":           {`{"session_id":"` + victimSess + `"}`, "action"},
		"action number":       {`{"action":1}`, "action"},
		"action null":         {`{"action":null}`, "action"},
		"action unknown":      {`{"action":"nuke"}`, "action"},
		"action array":        {`{"action":["terminate"]}`, "action"},
		"no session_id":       {`{"action":"terminate"}`, "session_id"},
		"session_id number":   {`{"action":"terminate","session_id":42}`, "session_id"},
		"session_id null":     {`{"action":"terminate","session_id":null}`, "session_id"},
		"session_id object":   {`{"action":"terminate","session_id":{"id":"x"}}`, "session_id"},
		"session_id shape":    {`{"action":"terminate","session_id":"sess_abc123"}`, "session_id"},
		"user_id string":      {`{"action":"blacklist_add","user_id":"5","reason":"x"}`, "user_id"},
		"user_id float":       {`{"action":"blacklist_add","user_id":5.0,"reason":"x"}`, "user_id"},
		"user_id fraction":    {`{"action":"blacklist_add","user_id":5.5,"reason":"x"}`, "user_id"},
		"user_id exponent":    {`{"action":"blacklist_add","user_id":5e0,"reason":"x"}`, "user_id"},
		"user_id null":        {`{"action":"blacklist_add","user_id":null,"reason":"x"}`, "user_id"},
		"user_id bool":        {`{"action":"blacklist_add","user_id":true,"reason":"x"}`, "user_id"},
		"user_id zero":        {`{"action":"blacklist_add","user_id":0,"reason":"x"}`, "user_id"},
		"user_id negative":    {`{"action":"blacklist_add","user_id":-5,"reason":"x"}`, "user_id"},
		"user_id overflow":    {`{"action":"blacklist_add","user_id":99999999999999999999,"reason":"x"}`, "user_id"},
		"user_id missing":     {`{"action":"blacklist_add","reason":"x"}`, "user_id"},
		"reason missing":      {`{"action":"blacklist_add","user_id":5}`, "reason"},
		"reason blank":        {`{"action":"blacklist_add","user_id":5,"reason":"  "}`, "reason"},
		"reason number":       {`{"action":"blacklist_add","user_id":5,"reason":7}`, "reason"},
		"reason too long":     {`{"action":"blacklist_add","user_id":5,"reason":"` + strings.Repeat("é", session.MaxReasonRunes+1) + `"}`, "reason"},
		"remove with reason":  {`{"action":"blacklist_remove","user_id":5,"reason":"x"}`, "reason"},
		"remove user_id text": {`{"action":"blacklist_remove","user_id":"five"}`, "user_id"},
		"csrf_token number":   {term(`,"csrf_token":123`), "csrf_token"},
		"invalid UTF-8":       {"{\"action\":\"blacklist_add\",\"user_id\":5,\"reason\":\"\xff\"}", "UTF-8"},
		"byte order mark":     {"\ufeff" + term(``), "JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.refuse(t, request{method: "POST", path: "/api/security/sessions", bearer: admin, body: c.body, header: hdr}, http.StatusBadRequest, "invalid_request")
			if msg := r.body["message"].(string); !strings.Contains(msg, c.want) {
				t.Fatalf("message %q does not name %q", msg, c.want)
			}
		})
	}

	for _, path := range []string{"/api/security/mobile-auth", "/login"} {
		for name, c := range map[string]struct{ body, want string }{
			"no password":     {`{"email":"` + email(victimID) + `"}`, "password"},
			"no email":        {`{"password":"x"}`, "email"},
			"email number":    {`{"email":5,"password":"x"}`, "email"},
			"password null":   {`{"email":"a@b.c","password":null}`, "password"},
			"unknown field":   {`{"email":"a@b.c","password":"x","remember":true}`, "remember"},
			"duplicate email": {`{"email":"a@b.c","email":"` + email(victimID) + `","password":"x"}`, "email"},
			"empty email":     {`{"email":"","password":"x"}`, "email"},
			"csrf_token":      {`{"email":"a@b.c","password":"x","csrf_token":"x"}`, "csrf_token"},
			"array":           {`[{"email":"a@b.c","password":"x"}]`, "object"},
		} {
			t.Run(path+"/"+name, func(t *testing.T) {
				r := e.refuse(t, request{method: "POST", path: path, body: c.body}, http.StatusBadRequest, "invalid_request")
				if msg := r.body["message"].(string); !strings.Contains(msg, c.want) {
					t.Fatalf("message %q does not name %q", msg, c.want)
				}
			})
		}
	}

	t.Run("logout", func(t *testing.T) {
		web, webID := e.login(victimID, session.KindWeb)
		e.refuse(t, request{method: "POST", path: "/logout", cookie: web, body: `{"everywhere":true}`}, http.StatusBadRequest, "invalid_request")
		if !e.live(webID) {
			t.Fatal("logged out")
		}
	})

	// The CSRF token survived every 400.
	e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin, body: term(``), header: hdr}).
		ok(t, "Session terminated")
}

func TestBadQuery(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	for q, want := range map[string]string{
		"":                                 "action",
		"?action=":                         "action",
		"?action=nuke":                     "action",
		"?action=list&action=list":         "action",
		"?action=list&foo=1":               "foo",
		"?action=list&Page=1":              "Page",
		"?action=list&page=0":              "page",
		"?action=list&page=-1":             "page",
		"?action=list&page=01":             "page",
		"?action=list&page=abc":            "page",
		"?action=list&page=":               "page",
		"?action=list&page=1&page=2":       "page",
		"?action=list&page=99999999999":    "page",
		"?action=list&page=2147483647":     "page", // past the manager's bound on offset
		"?action=list&limit=0":             "limit",
		"?action=list&limit=1001":          "limit",
		"?action=list&limit=+5":            "limit",
		"?action=list&limit=5.0":           "limit",
		"?action=list&user_id=0":           "user_id",
		"?action=list&user_id=-1":          "user_id",
		"?action=list&user_id=x":           "user_id",
		"?action=list&user_id=1e3":         "user_id",
		"?action=blacklist_list&page=1":    "page",
		"?action=blacklist_list&user_id=1": "user_id",
		"?action=list&%zz=1":               "query",
		"?action=list;page=2":              "query",
	} {
		t.Run(q, func(t *testing.T) {
			r := e.refuse(t, request{method: "GET", path: "/api/security/sessions" + q, bearer: admin}, http.StatusBadRequest, "invalid_request")
			if msg := r.body["message"].(string); !strings.Contains(msg, want) {
				t.Fatalf("message %q does not name %q", msg, want)
			}
		})
	}
	for _, rq := range []request{
		{method: "GET", path: "/api/security/csrf-token?x=1", bearer: admin},
		{method: "DELETE", path: "/api/security/mobile-auth?token=x", bearer: admin},
		{method: "GET", path: "/logout?next=/", bearer: admin},
		{method: "POST", path: "/api/security/mobile-auth?x=1", body: jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})},
		{method: "POST", path: "/api/security/sessions?action=terminate", bearer: admin, body: `{"action":"blacklist_remove","user_id":5}`},
	} {
		t.Run(rq.method+" "+rq.path, func(t *testing.T) {
			e.refuse(t, rq, http.StatusBadRequest, "invalid_request")
		})
	}
}

func TestNotFoundPaths(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/api/security/nope", "/api/security/", "/api/security/sessions/", "/api/admin/security-report",
		"/api/admin/", "/api/security/csrf-token/x"} {
		for _, method := range []string{"GET", "POST"} {
			t.Run(method+" "+path, func(t *testing.T) {
				e.refuse(t, request{method: method, path: path, body: `{}`}, http.StatusNotFound, "not_found")
			})
		}
	}
	t.Run("ServeHTTP", func(t *testing.T) {
		e.serve(e.h)
		e.do(request{method: "GET", path: "/elsewhere"}).refused(t, http.StatusNotFound, "not_found")
		e.do(request{method: "GET", path: "/api/security/csrf-token"}).refused(t, http.StatusUnauthorized, "unauthenticated")
		e.do(request{method: "POST", path: "/logout"}).refused(t, http.StatusUnauthorized, "unauthenticated")
	})
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/api/security/csrf-token", "GET, HEAD"},
		{"DELETE", "/api/security/csrf-token", "GET, HEAD"},
		{"PUT", "/api/security/sessions", "GET, HEAD, POST"},
		{"DELETE", "/api/security/sessions", "GET, HEAD, POST"},
		{"PATCH", "/api/security/sessions", "GET, HEAD, POST"},
		{"OPTIONS", "/api/security/sessions", "GET, HEAD, POST"},
		{"GET", "/api/security/mobile-auth", "DELETE, POST"},
		{"PUT", "/api/security/mobile-auth", "DELETE, POST"},
		{"GET", "/login", "POST"},
		{"DELETE", "/logout", "GET, POST"},
	} {
		for _, bearer := range []string{"", admin} {
			t.Run(fmt.Sprintf("%s %s %v", c.method, c.path, bearer != ""), func(t *testing.T) {
				r := e.refuse(t, request{method: c.method, path: c.path, bearer: bearer, body: `{}`}, http.StatusMethodNotAllowed, "method_not_allowed")
				if got := r.header.Get("Allow"); got != c.allow {
					t.Fatalf("Allow = %q, want %q", got, c.allow)
				}
			})
		}
	}
}

func withMaxBody(n int64) envOption {
	return func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) { h.MaxBodyBytes = n }
}

// chunked hides a body's length from the client, which then streams it.
type chunked struct{ io.Reader }

func TestBodyTooLarge(t *testing.T) {
	for _, limit := range []int64{0, 300} { // 0: the 1 MiB default
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			e := newEnv(t, withMaxBody(limit))
			admin := e.bearer(adminID)
			max := limit
			if max == 0 {
				max = httpadapter.DefaultMaxBodyBytes
			}
			pad := func(prefix string, n int64) string {
				return prefix + `"` + strings.Repeat("a", int(n)-len(prefix)-3) + `"}`
			}
			for _, c := range []struct {
				name, path, body string
				bearer           string
			}{
				{"sessions", "/api/security/sessions", pad(`{"action":"blacklist_add","user_id":5,"reason":`, max+1), admin},
				{"mobile-auth", "/api/security/mobile-auth", pad(`{"email":"`+email(victimID)+`","password":`, max+1), ""},
				{"login", "/login", pad(`{"email":"`+email(victimID)+`","password":`, max+1), ""},
			} {
				if int64(len(c.body)) != max+1 {
					t.Fatalf("body of %d bytes", len(c.body))
				}
				for _, stream := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s stream=%v", c.name, stream), func(t *testing.T) {
						before := e.snap() // includes: no failed login recorded, so no password was hashed
						var body io.Reader = strings.NewReader(c.body)
						if stream {
							body = chunked{body}
						}
						req, err := http.NewRequest("POST", e.srv.URL+c.path, body)
						if err != nil {
							t.Fatal(err)
						}
						req.Header.Set("Content-Type", "application/json")
						if c.bearer != "" {
							req.Header.Set("Authorization", "Bearer "+c.bearer)
							req.Header.Set("X-CSRF-Token", e.csrfToken(c.bearer))
						}
						e.send(req).refused(t, http.StatusRequestEntityTooLarge, "body_too_large")
						e.unchanged(t, before)
					})
				}
			}
			t.Run("at the limit", func(t *testing.T) {
				body := pad(`{"email":"`+email(victimID)+`","password":`, max)
				r := e.do(request{method: "POST", path: "/api/security/mobile-auth", body: body})
				// Read whole: the password is too long (1 MiB) or wrong.
				if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
					t.Fatalf("%d %s", r.status, r.raw)
				}
			})
		})
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	body := `{"action":"blacklist_add","user_id":5,"reason":"x"}`
	for _, ct := range []string{"-", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/jsonx", "application/json; charset=latin1", "application/json; foo=bar",
		"text/json", "application/*"} {
		for _, path := range []string{"/api/security/sessions", "/api/security/mobile-auth", "/login", "/logout"} {
			if ct == "application/x-www-form-urlencoded" && (path == "/login" || path == "/logout") {
				continue // HTML form login and logout: hostroutes_test.go
			}
			t.Run(ct+" "+path, func(t *testing.T) {
				e.refuse(t, request{method: "POST", path: path, bearer: admin, body: body, contentType: ct}, http.StatusUnsupportedMediaType, "unsupported_media_type")
			})
		}
	}
	t.Run("two headers", func(t *testing.T) {
		e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin, body: body, contentType: "-",
			header: http.Header{"Content-Type": {"application/json", "application/json"}}}).
			refused(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	})
	t.Run("charset utf-8 is fine", func(t *testing.T) {
		e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin, body: body,
			contentType: "Application/JSON; charset=UTF-8", header: http.Header{"X-Csrf-Token": {e.csrfToken(admin)}}}).
			ok(t, "User blacklisted and all sessions terminated")
	})
}

func TestThrottled(t *testing.T) {
	e := newEnv(t)
	wrong := jsonBody(map[string]string{"email": email(victimID), "password": "wrong"})
	unknown := jsonBody(map[string]string{"email": "nobody@example.com", "password": "wrong"})
	var first response
	for i := range 5 {
		path := "/api/security/mobile-auth"
		if i%2 == 1 {
			path = "/login"
		}
		r := e.do(request{method: "POST", path: path, body: wrong})
		r.refused(t, http.StatusUnauthorized, "invalid_credentials")
		if i == 0 {
			first = r
		}
	}
	// An unknown email is answered exactly like a wrong password.
	u := e.do(request{method: "POST", path: "/api/security/mobile-auth", body: unknown})
	if u.status != first.status || u.raw != first.raw || u.header.Get("WWW-Authenticate") != first.header.Get("WWW-Authenticate") {
		t.Fatalf("unknown email %d %s, wrong password %d %s", u.status, u.raw, first.status, first.raw)
	}
	if first.body["message"] != "Invalid email or password" {
		t.Fatalf("%s", first.raw)
	}

	right := jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})
	for _, path := range []string{"/api/security/mobile-auth", "/login"} {
		t.Run(path, func(t *testing.T) {
			r := e.refuseLogin(t, request{method: "POST", path: path, body: right}, http.StatusTooManyRequests, "too_many_attempts")
			ra := r.header.Get("Retry-After")
			var secs int
			if _, err := fmt.Sscanf(ra, "%d", &secs); err != nil || secs < 1 || secs > 15*60 || fmt.Sprint(secs) != ra {
				t.Fatalf("Retry-After = %q", ra)
			}
		})
	}
	// Once the window has passed, the right password works again.
	e.clock.Advance(15 * time.Minute)
	e.do(request{method: "POST", path: "/api/security/mobile-auth", body: right}).ok(t, "Mobile authentication token issued")
}

func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	web, webID := e.login(victimID, session.KindWeb)
	creds := jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})
	for _, hdr := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}},
		{"Origin": {"https://evil.example"}},
	} {
		for name, rq := range map[string]request{
			"sessions":    {method: "POST", path: "/api/security/sessions", bearer: admin, body: jsonBody(map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "x", "csrf_token": e.csrfToken(admin)})},
			"mobile-auth": {method: "POST", path: "/api/security/mobile-auth", body: creds},
			"login":       {method: "POST", path: "/login", body: creds},
			"revoke":      {method: "DELETE", path: "/api/security/mobile-auth", bearer: admin},
			"logout post": {method: "POST", path: "/logout", cookie: web, body: `{}`},
			"logout get":  {method: "GET", path: "/logout", cookie: web},
		} {
			t.Run(fmt.Sprint(hdr, name), func(t *testing.T) {
				rq.header = hdr
				r := e.refuse(t, rq, http.StatusForbidden, "cross_origin")
				if r.header.Get("Set-Cookie") != "" {
					t.Fatal("cookie set")
				}
			})
		}
	}
	t.Run("same origin logout", func(t *testing.T) {
		e.do(request{method: "GET", path: "/logout", cookie: web, header: http.Header{"Sec-Fetch-Site": {"same-origin"}}}).
			ok(t, "Logged out")
		if e.live(webID) {
			t.Fatal("still live")
		}
	})
	t.Run("trusted origin", func(t *testing.T) {
		cop := http.NewCrossOriginProtection()
		if err := cop.AddTrustedOrigin("https://app.example"); err != nil {
			t.Fatal(err)
		}
		e2 := newEnv(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) { h.CrossOrigin = cop })
		e2.do(request{method: "POST", path: "/api/security/mobile-auth", body: creds,
			header: http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://app.example"}}}).
			ok(t, "Mobile authentication token issued")
		e2.do(request{method: "POST", path: "/api/security/mobile-auth", body: creds,
			header: http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}}).
			refused(t, http.StatusForbidden, "cross_origin")
	})
}

// TestCheckOrder sends requests with two faults each: the earlier check in
// the documented order answers.
func TestCheckOrder(t *testing.T) {
	e := newEnv(t, withMaxBody(200))
	admin := e.bearer(adminID)
	customer := e.bearer(customerID)
	staff := e.bearer(staffID)
	big := `{"action":"blacklist_add","user_id":5,"reason":"` + strings.Repeat("x", 300) + `"}`
	bigBroken := `{"action":` + strings.Repeat(" ", 300)
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	for name, c := range map[string]struct {
		rq     request
		status int
		code   string
	}{
		"405 before cross-origin": {request{method: "PUT", path: "/api/security/sessions", header: cross}, 405, "method_not_allowed"},
		"405 before 401":          {request{method: "PUT", path: "/api/security/sessions"}, 405, "method_not_allowed"},
		"cross-origin before 401": {request{method: "POST", path: "/api/security/sessions", body: `{}`, header: cross}, 403, "cross_origin"},
		"401 before staff":        {request{method: "POST", path: "/api/security/sessions", body: `{}`, bearer: security.NewToken()}, 401, "unauthenticated"},
		"401 before 415":          {request{method: "POST", path: "/api/security/sessions", body: `{}`, contentType: "text/plain"}, 401, "unauthenticated"},
		"staff before 415":        {request{method: "POST", path: "/api/security/sessions", body: `{}`, bearer: customer, contentType: "text/plain"}, 403, "forbidden"},
		"staff before 400 query":  {request{method: "GET", path: "/api/security/sessions?action=nuke", bearer: customer}, 403, "forbidden"},
		"415 before 413":          {request{method: "POST", path: "/api/security/sessions", body: big, bearer: admin, contentType: "text/plain"}, 415, "unsupported_media_type"},
		"413 before 400":          {request{method: "POST", path: "/api/security/sessions", body: bigBroken, bearer: admin}, 413, "body_too_large"},
		"400 before CSRF":         {request{method: "POST", path: "/api/security/sessions", body: `{"action":"terminate"}`, bearer: admin}, 400, "invalid_request"},
		"400 before permission":   {request{method: "GET", path: "/api/security/sessions?action=list&page=0", bearer: staff}, 400, "invalid_request"},
		"CSRF before permission":  {request{method: "POST", path: "/api/security/sessions", body: `{"action":"blacklist_remove","user_id":5}`, bearer: staff}, 403, "csrf_invalid"},
		"CSRF before 404":         {request{method: "POST", path: "/api/security/sessions", body: `{"action":"blacklist_remove","user_id":5}`, bearer: admin}, 403, "csrf_invalid"},
		"CSRF before own session": {request{method: "POST", path: "/api/security/sessions", body: `{"action":"blacklist_add","user_id":1,"reason":"x"}`, bearer: admin}, 403, "csrf_invalid"},
		"mobile 415 before 413":   {request{method: "POST", path: "/api/security/mobile-auth", body: big, contentType: "text/plain"}, 415, "unsupported_media_type"},
	} {
		t.Run(name, func(t *testing.T) {
			e.refuse(t, c.rq, c.status, c.code)
		})
	}
}
