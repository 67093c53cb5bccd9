package httpadapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Mount the endpoints on a host's mux, next to a host route that needs a
// session, and use them as a mobile client would.
func ExampleHandler_Register() {
	ctx := context.Background()
	st := memstore.New()
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1} // cheap for the example; use the default in production
	hash, _ := hasher.Hash("correct horse battery staple")
	st.UpsertUser(ctx, session.User{PasswordHash: hash, Principal: security.Principal{UserID: 42, Name: "Jane Smith",
		Email: "jane@example.com", AccountType: security.AccountStaff,
		Permissions: []security.Permission{security.PermSessionsList}}})
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: hasher})
	if err != nil {
		log.Fatal(err)
	}
	key, _ := st.Secret(ctx, "csrf-key", 32)
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: st})
	if err != nil {
		log.Fatal(err)
	}
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	h.Register(mux)
	mux.Handle("GET /api/hello", h.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := httpadapter.AuthFrom(r.Context())
		fmt.Fprintf(w, "hello, %s", a.Principal.Name)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// POST /api/security/mobile-auth: a bearer token.
	resp, err := http.Post(srv.URL+"/api/security/mobile-auth", "application/json",
		strings.NewReader(`{"email": "jane@example.com", "password": "correct horse battery staple"}`))
	if err != nil {
		log.Fatal(err)
	}
	var login struct {
		Message string
		Data    struct{ Token string }
	}
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, login.Message)

	get := func(path string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+login.Data.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}

	// GET /api/security/sessions?action=list with the token.
	resp = get("/api/security/sessions?action=list")
	var list struct {
		Count int
		Data  []struct {
			UserName  string `json:"user_name"`
			IsCurrent bool   `json:"is_current"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, list.Count, list.Data[0].UserName, list.Data[0].IsCurrent)

	// The host's own route.
	resp = get("/api/hello")
	hello, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(hello))

	// Unknown paths under /api/security/ are JSON 404s.
	resp = get("/api/security/nope")
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))

	// Output:
	// 200 Mobile authentication token issued
	// 200 1 Jane Smith true
	// 200 hello, Jane Smith
	// 404 application/json
}

// Behind a reverse proxy at 10.0.0.2, the client is the rightmost address
// the proxy did not add itself.
func ExampleClientIP() {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:51234"
	r.Header.Set("X-Forwarded-For", "192.0.2.66, 203.0.113.10")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	fmt.Println(httpadapter.ClientIP(r, trusted))
	fmt.Println(httpadapter.ClientIP(r, nil))
	// Output:
	// 203.0.113.10
	// 10.0.0.2
}
