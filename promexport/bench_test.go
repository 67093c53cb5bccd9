package promexport_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/promexport"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// benchSetup returns a manager and adapter on memstore, measured by an
// Exporter when measured, and a bearer token of a live session.
func benchSetup(b *testing.B, measured bool) (*session.Manager, http.Handler, string) {
	ctx := context.Background()
	st := memstore.New()
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1}
	hash, _ := hasher.Hash("pw")
	if err := st.UpsertUser(ctx, session.User{PasswordHash: hash, Principal: security.Principal{UserID: 1,
		Name: "A", Email: "a@example.com", AccountType: security.AccountStaff}}); err != nil {
		b.Fatal(err)
	}
	var obs security.Observer
	if measured {
		exp, err := promexport.New(promexport.Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		obs = exp
	}
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: hasher, Observer: obs})
	if err != nil {
		b.Fatal(err)
	}
	csrf, _ := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Reusable: true})
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf, Observer: obs})
	if err != nil {
		b.Fatal(err)
	}
	res, err := mgr.Login(ctx, session.LoginRequest{Email: "a@example.com", Password: "pw", Kind: session.KindMobile})
	if err != nil {
		b.Fatal(err)
	}
	return mgr, h, res.Token
}

// BenchmarkAuthenticate is session.Manager.Authenticate on memstore,
// without an observer and with a promexport.Exporter.
func BenchmarkAuthenticate(b *testing.B) {
	for _, bc := range []struct {
		name     string
		measured bool
	}{{"none", false}, {"exporter", true}} {
		b.Run(bc.name, func(b *testing.B) {
			mgr, _, token := benchSetup(b, bc.measured)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := mgr.Authenticate(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthenticatedGET is GET /api/security/csrf-token through the
// adapter (no network), without an observer and with an Exporter.
func BenchmarkAuthenticatedGET(b *testing.B) {
	for _, bc := range []struct {
		name     string
		measured bool
	}{{"none", false}, {"exporter", true}} {
		b.Run(bc.name, func(b *testing.B) {
			_, h, token := benchSetup(b, bc.measured)
			req := httptest.NewRequest("GET", "/api/security/csrf-token", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}

// BenchmarkObserve is one Exporter.Observe of a timed kind.
func BenchmarkObserve(b *testing.B) {
	exp, err := promexport.New(promexport.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	m := security.Measurement{Kind: security.KindAuthenticate, Result: "ok", Duration: 1500}
	b.ReportAllocs()
	for b.Loop() {
		exp.Observe(m)
	}
}
