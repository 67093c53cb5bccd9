package client_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/propops/propsec/client"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/internal/openapitest"
	"github.com/propops/propsec/internal/webauthntest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func TestPasskeys(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1}
	hash, err := hasher.Hash(password(victimID))
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: victimID, Name: "Vic",
		Email: email(victimID), AccountType: security.AccountCustomer}, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	const origin = "https://app.example"
	pk, err := passkey.New(passkey.Config{RPID: "app.example", RPDisplayName: "App", RPOrigins: []string{origin}, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := session.New(session.Config{Store: mem, Users: mem, Hasher: hasher, Methods: []session.FactorMethod{pk}})
	if err != nil {
		t.Fatal(err)
	}
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: mem})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf, Passkeys: pk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	v, err := openapitest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c, err := client.New(srv.URL, client.WithHTTPClient(&http.Client{Jar: jar, Transport: v.Transport(t, srv.Client().Transport)}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IssueToken(ctx, email(victimID), password(victimID)); err != nil {
		t.Fatal(err)
	}
	auth := webauthntest.New(origin)
	cer, err := c.BeginPasskeyRegistration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Create(cer.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.FinishPasskeyRegistration(ctx, cer.CeremonyID, "phone", resp)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "phone" || p.LastUsedAt != "" {
		t.Fatalf("registered: %+v", p)
	}
	list, err := c.Passkeys(ctx)
	if err != nil || len(list) != 1 || list[0].CredentialID != p.CredentialID {
		t.Fatalf("list: %+v %v", list, err)
	}
	// A refusal is a typed error.
	_, err = c.FinishPasskeyRegistration(ctx, cer.CeremonyID, "again", resp)
	refused(t, err, 400, httpadapter.CodePasskeyRefused)

	// A mobile login of the user now waits for the passkey (the Go
	// client's user agent, from the test's address).
	res, err := mgr.Login(ctx, session.LoginRequest{Email: email(victimID), Password: password(victimID),
		Kind: session.KindMobile, IP: netip.MustParseAddr("127.0.0.1"), UserAgent: "Go-http-client/1.1"})
	if err != nil || res.Verification == nil {
		t.Fatalf("login: %v %+v", err, res)
	}
	fresh, err := client.New(srv.URL, client.WithHTTPClient(&http.Client{Transport: v.Transport(t, srv.Client().Transport)}))
	if err != nil {
		t.Fatal(err)
	}
	cer, err = fresh.BeginPasskeyVerification(ctx, res.Verification.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = auth.Get(cer.Options)
	if err != nil {
		t.Fatal(err)
	}
	done, err := fresh.FinishPasskeyVerification(ctx, res.Verification.ID, cer.CeremonyID, resp)
	if err != nil || done.Token == nil || done.Principal != nil {
		t.Fatalf("verification: %+v %v", done, err)
	}
	// The client now uses the token.
	if _, err := fresh.Passkeys(ctx); err != nil {
		t.Fatal(err)
	}
	// A usernameless login with the same passkey.
	alone, err := client.New(srv.URL, client.WithHTTPClient(&http.Client{Transport: v.Transport(t, srv.Client().Transport)}))
	if err != nil {
		t.Fatal(err)
	}
	cer, err = alone.BeginPasskeyLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = auth.Get(cer.Options)
	if err != nil {
		t.Fatal(err)
	}
	done, err = alone.FinishPasskeyLogin(ctx, cer.CeremonyID, resp, true)
	if err != nil || done.Token == nil {
		t.Fatalf("passkey login: %+v %v", done, err)
	}
	_, err = alone.FinishPasskeyLogin(ctx, cer.CeremonyID, resp, true)
	refused(t, err, 401, "invalid_credentials")
	err = fresh.RemovePasskey(ctx, p.CredentialID, "wrong password", "")
	refused(t, err, 400, "invalid_request")
	if err := fresh.RemovePasskey(ctx, p.CredentialID, password(victimID), ""); err != nil {
		t.Fatal(err)
	}
}
