package httpadapter_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/internal/browsertest"
	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// pkBrowser is a server with passkeys on http://localhost:PORT, its test
// page under /pk/, and a Chromium tab with a virtual authenticator.
type pkBrowser struct {
	t      *testing.T
	origin string
	// other serves the same on another port: same RP id, another origin.
	other string
	clock *fakeclock.Clock
	mem   *memstore.Store
	mgr   *session.Manager
	svc   *passkey.Service
	page  *browsertest.Page
}

// WebAuthn runs only in secure contexts, and browsers refuse an IP address
// as relying party id: http://127.0.0.1 cannot register a passkey. Serving
// on 127.0.0.1 and browsing http://localhost:PORT works, since localhost
// is a secure context on http and "localhost" a valid RP id.
func newPKBrowser(t *testing.T) *pkBrowser {
	page := browsertest.Start(t, browsertest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &pkBrowser{t: t, origin: fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port),
		clock: fakeclock.New(time.Now()), mem: memstore.New(), page: page}
	ctx := context.Background()
	for _, id := range []int64{victimID, customerID} {
		hash, err := cheapHasher.Hash(password(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.mem.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: id, Name: fmt.Sprint("User ", id),
			Email: email(id), AccountType: security.AccountCustomer}, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	if b.svc, err = passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "propsec browser test",
		RPOrigins: []string{b.origin}, Store: b.mem, Clock: b.clock}); err != nil {
		t.Fatal(err)
	}
	if b.mgr, err = session.New(session.Config{Store: b.mem, Users: b.mem, Clock: b.clock, Hasher: cheapHasher,
		Methods: []session.FactorMethod{b.svc}}); err != nil {
		t.Fatal(err)
	}
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: bytes.Repeat([]byte{9}, 32), Nonces: b.mem, Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpadapter.New(httpadapter.Config{Sessions: b.mgr, CSRF: csrf, Passkeys: b.svc, Clock: b.clock,
		InsecureCookies: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	files := http.StripPrefix("/pk/", http.FileServer(http.Dir("testdata/passkey")))
	mux.Handle("GET /pk/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The strictest policy a host would send: the page's script must
		// be a file of this origin.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'")
		files.ServeHTTP(w, r)
	}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	otherSrv := httptest.NewServer(mux)
	t.Cleanup(otherSrv.Close)
	b.other = browsertest.Localhost(otherSrv.URL)

	page.AddVirtualAuthenticator()
	b.open(b.origin)
	return b
}

// open loads the test page from origin.
func (b *pkBrowser) open(origin string) {
	b.page.Navigate(origin + "/pk/")
	b.page.WaitText("#status", "ready")
}

// js evaluates expr (a promise of {status, body}) and returns the status
// and the body.
func (b *pkBrowser) js(expr string) (int, map[string]any) {
	b.t.Helper()
	r := browsertest.Eval[map[string]any](b.page, expr)
	status, _ := r["status"].(float64)
	body, _ := r["body"].(map[string]any)
	return int(status), body
}

func (b *pkBrowser) want(what string, status int, body map[string]any, wantStatus int, wantMessage string) {
	b.t.Helper()
	if status != wantStatus || body["message"] != wantMessage {
		b.page.Fatalf("%s: got %d %v, want %d %q", what, status, body, wantStatus, wantMessage)
	}
}

// pending logs user in from the page (POST /login) and returns the
// verification the login waits for (its 202).
func (b *pkBrowser) pending(user int64) string {
	b.t.Helper()
	status, body := b.js(fmt.Sprintf("pk.login(%q, %q)", email(user), password(user)))
	data, _ := body["data"].(map[string]any)
	id, _ := data["verification_id"].(string)
	if status != http.StatusAccepted || id == "" {
		b.page.Fatalf("login of a user with a passkey: %d %v", status, body)
	}
	return id
}

// refused asserts a 401 verification_failed.
func (b *pkBrowser) refused(what string, status int, body map[string]any) {
	b.t.Helper()
	if status != http.StatusUnauthorized || body["error"] != httpadapter.CodeVerificationFailed {
		b.page.Fatalf("%s: got %d %v, want 401 %s", what, status, body, httpadapter.CodeVerificationFailed)
	}
}

// lastRefusal is the reason of the latest passkey_refused event.
func (b *pkBrowser) lastRefusal() string {
	evs, err := b.mem.Events(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == passkey.EventRefused {
			return evs[i].Details["reason"]
		}
	}
	return ""
}

func TestPasskeyInBrowser(t *testing.T) {
	b := newPKBrowser(t)
	ctx := context.Background()

	// Register a passkey in a logged-in session.
	status, body := b.js(fmt.Sprintf("pk.login(%q, %q)", email(victimID), password(victimID)))
	b.want("login", status, body, 200, "Logged in")
	status, body = b.js(`pk.register("virtual authenticator")`)
	b.want("register", status, body, 200, "Passkey registered")
	creds, err := b.svc.List(ctx, victimID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("passkeys after registration: %v %v", creds, err)
	}
	if c := creds[0]; !c.UserVerified || len(c.Transports) == 0 || c.Transports[0] != "internal" {
		t.Fatalf("registered credential: %+v", c)
	}
	b.page.Screenshot("passkey-registered")

	// A login needing a second factor, completed with the passkey.
	ver := b.pending(victimID)
	status, body = b.js(fmt.Sprintf("pk.verify(%q)", ver))
	b.want("verify", status, body, 200, "Logged in")
	if data, _ := body["data"].(map[string]any); data["user_id"] != float64(victimID) {
		t.Fatalf("verified login: %v", body)
	}
	status, body = b.js("pk.list()")
	b.want("list with the verified session", status, body, 200, "Passkeys retrieved")
	if c, _ := b.svc.List(ctx, victimID); c[0].LastUsedAt.IsZero() || c[0].SignCount == 0 {
		t.Fatalf("the assertion was not recorded: %+v", c[0])
	}

	t.Run("replayed assertion", func(t *testing.T) {
		status, body := b.js(fmt.Sprintf("pk.finishVerify(%q, pk.last)", ver))
		b.refused("replay", status, body)
		// And on a fresh verification, with a fresh ceremony id: the
		// challenge signed is the old one.
		ver := b.pending(victimID)
		status, body = b.js(fmt.Sprintf(`pk.beginVerify(%q).then((s) => pk.finishVerify(%q,
			Object.assign({}, s, {credential: pk.last.credential})))`, ver, ver))
		b.refused("replay on a new ceremony", status, body)
		if r := b.lastRefusal(); !strings.Contains(r, "challenge") {
			t.Fatalf("refusal reason %q", r)
		}
	})

	t.Run("expired ceremony", func(t *testing.T) {
		ver := b.pending(victimID)
		status, body := b.js(fmt.Sprintf(`pk.beginVerify(%q).then((s) => (window.started = s, s.begin))`, ver))
		b.want("begin", status, body, 200, "Passkey verification started")
		b.clock.Advance(passkey.DefaultCeremonyTimeout + time.Second) // the verification (10 min) is still live
		status, body = b.js(fmt.Sprintf("pk.finishVerify(%q, window.started)", ver))
		b.refused("finish after expiry", status, body)
		if r := b.lastRefusal(); r != "ceremony expired" {
			t.Fatalf("refusal reason %q", r)
		}
	})

	t.Run("another user's credential", func(t *testing.T) {
		// The same authenticator holds a passkey of customer too.
		status, body := b.js(fmt.Sprintf("pk.login(%q, %q)", email(customerID), password(customerID)))
		b.want("login", status, body, 200, "Logged in")
		status, body = b.js(`pk.register("customer's")`)
		b.want("register", status, body, 200, "Passkey registered")
		other := passkey.CredentialID(mustList(t, b.svc, customerID)[0].ID)
		// A tampering client asks the authenticator for customer's
		// credential during victim's verification.
		ver := b.pending(victimID)
		status, body = b.js(fmt.Sprintf(`pk.beginVerify(%q, [%q]).then((s) => pk.finishVerify(%q, s))`, ver, other, ver))
		b.refused("another user's credential", status, body)
		if r := b.lastRefusal(); !strings.Contains(r, "not verify") {
			t.Fatalf("refusal reason %q", r)
		}
	})

	t.Run("wrong origin", func(t *testing.T) {
		// The same server on another port: "localhost" is the RP id there
		// too (it has no port), so the authenticator signs, but the
		// origin in the client data is not one of RPOrigins. (A page on
		// evil.localhost does not get that far: Chromium refuses the RP id
		// "localhost" there with a SecurityError.)
		ver := b.pending(victimID)
		b.open(b.other)
		status, body := b.js(fmt.Sprintf("pk.verify(%q)", ver))
		b.refused("assertion from another origin", status, body)
		if r := b.lastRefusal(); !strings.Contains(r, "rigin") {
			t.Fatalf("refusal reason %q", r)
		}
	})
}

// TestPasskeyUsernamelessInBrowser: a passkey registered as a second
// factor also logs in alone, the authenticator choosing the account (its
// only discoverable passkey here) and verifying the user.
func TestPasskeyUsernamelessInBrowser(t *testing.T) {
	b := newPKBrowser(t)
	status, body := b.js(fmt.Sprintf("pk.login(%q, %q)", email(victimID), password(victimID)))
	b.want("login", status, body, 200, "Logged in")
	status, body = b.js(`pk.register("virtual authenticator")`)
	b.want("register", status, body, 200, "Passkey registered")
	status, body = b.js("pk.passkeyLogin()")
	b.want("usernameless login", status, body, 200, "Logged in")
	if data, _ := body["data"].(map[string]any); data["user_id"] != float64(victimID) {
		t.Fatalf("logged in as %v", body)
	}
	b.page.Screenshot("passkey-usernameless")
	// The same credential again on a used ceremony is refused.
	status, body = b.js(`pk.call("POST", "/api/security/passkey-login", {action: "begin"}).then(async (b) => {
		const opts = PublicKeyCredential.parseRequestOptionsFromJSON(b.body.data.options.publicKey);
		const cred = (await navigator.credentials.get({publicKey: opts})).toJSON();
		const finish = {action: "finish", ceremony_id: b.body.data.ceremony_id, credential: cred};
		await pk.call("POST", "/api/security/passkey-login", finish);
		return pk.call("POST", "/api/security/passkey-login", finish);
	})`)
	if status != http.StatusUnauthorized || body["error"] != httpadapter.CodeInvalidCredentials {
		b.page.Fatalf("replayed passkey login: %d %v", status, body)
	}
}

// TestPasskeyNeedsLocalhost documents why the tests browse
// http://localhost: on http://127.0.0.1 the browser refuses the ceremony
// before the server sees anything (an IP address is no RP id, and
// "localhost" is not a suffix of it).
func TestPasskeyNeedsLocalhost(t *testing.T) {
	b := newPKBrowser(t)
	b.open(strings.Replace(b.origin, "localhost", "127.0.0.1", 1))
	status, body := b.js(fmt.Sprintf("pk.login(%q, %q)", email(victimID), password(victimID)))
	b.want("login", status, body, 200, "Logged in")
	got := browsertest.Eval[string](b.page, `pk.register("x").then(() => "registered", (e) => e.name)`)
	if got != "SecurityError" {
		t.Fatalf("registering on http://127.0.0.1: %q, want SecurityError", got)
	}
	if l, _ := b.svc.List(context.Background(), victimID); len(l) != 0 {
		t.Fatal("a passkey was registered")
	}
}

func mustList(t *testing.T, svc *passkey.Service, userID int64) []passkey.Credential {
	t.Helper()
	l, err := svc.List(context.Background(), userID)
	if err != nil || len(l) == 0 {
		t.Fatalf("passkeys of %d: %v %v", userID, l, err)
	}
	return l
}
