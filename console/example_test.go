package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/propops/propsec/console"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// A host mounts the API and the console on one mux; a browser that is
// not signed in gets the console's sign-in form at its prefix.
func ExampleNewHandler() {
	store := memstore.New()
	mgr, _ := session.New(session.Config{Store: store, Users: store})
	csrf, _ := security.NewCSRF(security.CSRFConfig{Key: []byte(strings.Repeat("k", 32)), Nonces: store})
	api, _ := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf})
	c, err := console.NewHandler(console.Options{Adapter: api, Sessions: mgr, Prefix: "/staff/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	api.Register(mux)
	mux.Handle("/staff/", c)

	req := httptest.NewRequestWithContext(context.Background(), "GET", "/staff/", nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	body := rec.Body.String()
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(strings.Contains(body, `<form class="card signin" method="post" action="/staff/login" name="signin">`))
	fmt.Println(strings.Contains(body, `name="email"`), strings.Contains(body, `name="password"`))
	// Output:
	// 200 text/html; charset=utf-8
	// true
	// true true
}
