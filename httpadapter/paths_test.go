package httpadapter_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/propops/propsec/session"
)

// rawDo sends one request over a new connection with target written as
// is (Go's client would clean it), and returns the response and its body.
func rawDo(t *testing.T, addr, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	if err := header.Write(&b); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestNonCanonicalPaths: a path under /api/security/ or /api/admin/ that
// http.ServeMux would redirect to its cleaned form, or the prefixes
// without their slash, get the JSON 404 instead, both from Handler.ServeHTTP and from a host mux wrapped in
// CanonicalPaths; the host's own paths keep the mux's behaviour.
func TestNonCanonicalPaths(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	hostMux := http.NewServeMux()
	e.h.Register(hostMux)
	hostMux.Handle("GET /host/page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "host page")
	}))
	mounts := map[string]http.Handler{
		"ServeHTTP":               e.h,
		"Register+CanonicalPaths": e.h.CanonicalPaths(hostMux),
	}
	targets := []string{
		"/api/security/../admin/security-report",
		"/api/security/../admin/security-report?from=2024-06-01",
		"/api/security/./csrf-token",
		"/api/security//csrf-token",
		"/api/security/sessions/../csrf-token",
		"/api/admin/./security-report",
		"/api//security/csrf-token",
		"//api/security/csrf-token",
		"/elsewhere/../api/security/csrf-token",
		"/api/security/csrf-token/.",
		"/api/security/x/..",
		// Escaped dots are not path elements: no redirect, and no route.
		"/api/security/%2e%2e/admin/security-report",
		"/api/security/%2E/csrf-token",
		"/api/security",
		"/api/admin",
		"/api/admin?x=1",
	}
	for name, handler := range mounts {
		srv := httptest.NewServer(handler)
		defer srv.Close()
		addr := srv.Listener.Addr().String()
		for _, target := range targets {
			for _, method := range []string{"GET", "POST", "HEAD"} {
				t.Run(name+"/"+method+" "+target, func(t *testing.T) {
					resp, body := rawDo(t, addr, method, target, http.Header{"Authorization": {"Bearer " + admin}})
					if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" ||
						resp.Header.Get("Content-Type") != "application/json" {
						t.Fatalf("got %d, Location %q, Content-Type %q: %q", resp.StatusCode,
							resp.Header.Get("Location"), resp.Header.Get("Content-Type"), body)
					}
					if method == "HEAD" {
						if len(body) != 0 {
							t.Fatalf("HEAD answered a body: %q", body)
						}
						return
					}
					var env map[string]any
					if err := json.Unmarshal(body, &env); err != nil || env["success"] != false || env["error"] != "not_found" {
						t.Fatalf("not the JSON 404: %q", body)
					}
				})
			}
		}
		t.Run(name+"/canonical path still served", func(t *testing.T) {
			resp, body := rawDo(t, addr, "GET", "/api/security/csrf-token", http.Header{"Authorization": {"Bearer " + admin}})
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"CSRF token issued"`) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
		})
	}
	t.Run("host paths untouched", func(t *testing.T) {
		srv := httptest.NewServer(mounts["Register+CanonicalPaths"])
		defer srv.Close()
		resp, _ := rawDo(t, srv.Listener.Addr().String(), "GET", "/host/../host/page", nil)
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/host/page" {
			t.Fatalf("got %d, Location %q: the host's own redirect is gone", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body := rawDo(t, srv.Listener.Addr().String(), "GET", "/host/page", nil)
		if resp.StatusCode != http.StatusOK || string(body) != "host page" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
}

// TestHead: HEAD on a GET route is answered as the GET (same status and
// headers, Content-Length included) without a body; the 405 of a path
// lists HEAD wherever GET is allowed. GET /logout changes state, so HEAD
// is not served as it.
func TestHead(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	addr := e.srv.Listener.Addr().String()
	send := func(method, path, bearer string) (*http.Response, []byte) {
		t.Helper()
		hdr := http.Header{}
		if bearer != "" {
			hdr.Set("Authorization", "Bearer "+bearer)
		}
		return rawDo(t, addr, method, path, hdr)
	}
	for _, c := range []struct {
		name, path, bearer string
		status             int
		allow              string
	}{
		{"csrf token", "/api/security/csrf-token", admin, 200, ""},
		{"session list", "/api/security/sessions?action=list", admin, 200, ""},
		{"blacklist", "/api/security/sessions?action=blacklist_list", admin, 200, ""},
		{"unauthenticated", "/api/security/csrf-token", "", 401, ""},
		{"bad query", "/api/security/sessions?action=nuke", admin, 400, ""},
		{"unknown path", "/api/security/nope", admin, 404, ""},
		{"POST-only path", "/login", "", 405, "POST"},
		{"POST and DELETE path", "/api/security/mobile-auth", admin, 405, "DELETE, POST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			get, getBody := send("GET", c.path, c.bearer)
			head, headBody := send("HEAD", c.path, c.bearer)
			if head.StatusCode != c.status || get.StatusCode != c.status {
				t.Fatalf("HEAD %d, GET %d; want %d", head.StatusCode, get.StatusCode, c.status)
			}
			if len(headBody) != 0 {
				t.Fatalf("HEAD answered a body: %q", headBody)
			}
			if c.status == 405 {
				if got := head.Header.Get("Allow"); got != c.allow {
					t.Fatalf("Allow = %q, want %q", got, c.allow)
				}
				return
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "WWW-Authenticate"} {
				if head.Header.Get(h) != get.Header.Get(h) {
					t.Errorf("%s: HEAD %q, GET %q", h, head.Header.Get(h), get.Header.Get(h))
				}
			}
			if n, _ := strconv.Atoi(head.Header.Get("Content-Length")); n != len(getBody) {
				t.Errorf("HEAD Content-Length %d, GET body %d bytes", n, len(getBody))
			}
		})
	}
	t.Run("logout", func(t *testing.T) {
		web, id := e.login(victimID, session.KindWeb)
		resp, _ := rawDo(t, addr, "HEAD", "/logout", http.Header{"Sec-Fetch-Site": {"same-origin"},
			"Cookie": {"__Host-propsec_session=" + web}})
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, POST" || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("got %d, Allow %q, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Set-Cookie"))
		}
		if !e.live(id) {
			t.Fatal("HEAD /logout logged out")
		}
	})
	// Not every server drops a HEAD body as net/http's does: the adapter
	// writes none itself.
	t.Run("recorder", func(t *testing.T) {
		for _, path := range []string{"/api/security/csrf-token", "/api/security/nope"} {
			req := httptest.NewRequest("HEAD", path, nil)
			req.Header.Set("Authorization", "Bearer "+admin)
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
				t.Fatalf("%s: %d, Content-Length %q, body %q", path, rec.Code, rec.Header().Get("Content-Length"), rec.Body)
			}
		}
	})
}
