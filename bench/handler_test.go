package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/csrf"
	_ "modernc.org/sqlite"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// The per-request cost of the authenticated GET /api/security/csrf-token,
// in-process (no network, no wrk), side by side:
//
//	go test -run '^$' -bench CSRFTokenGET -count 6 . | tee new.txt; benchstat new.txt
func BenchmarkCSRFTokenGET(b *testing.B) {
	b.Run("propsec-sqlite", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "p.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchPropsec(b, st, st)
	})
	b.Run("propsec-memstore", func(b *testing.B) {
		st := memstore.New()
		benchPropsec(b, st, st)
	})
	b.Run("scs-sqlite+gorilla-csrf", benchPeer)
}

type propsecStore interface {
	session.Store
	security.NonceStore
	UpsertUser(context.Context, session.User) error
}

// seededSessions is how many live sessions the store holds while measured.
const seededSessions = 10000

// seedSessions stores user 1 (staff) and seededSessions live sessions of
// theirs, and returns the credential of the last.
func seedSessions(b *testing.B, st propsecStore) string {
	b.Helper()
	ctx := context.Background()
	if err := st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 1, Name: "B", Email: "b@x",
		AccountType: security.AccountStaff, Permissions: security.AllPermissions}}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	var token string
	for range seededSessions {
		token = security.NewToken()
		s := session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(token), UserID: 1,
			Kind: session.KindMobile, CreatedAt: now, LastActive: now, IdleTimeout: time.Hour, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
	}
	return token
}

func benchPropsec(b *testing.B, st propsecStore, users session.UserDirectory) {
	token := seedSessions(b, st)
	mgr, err := session.New(session.Config{Store: st, Users: users})
	if err != nil {
		b.Fatal(err)
	}
	c, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: st})
	if err != nil {
		b.Fatal(err)
	}
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: c})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/security/csrf-token", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	run(b, h, req)
}

func benchPeer(b *testing.B) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "scs.db")+
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions(expiry);`); err != nil {
		b.Fatal(err)
	}
	sm := scs.New()
	sm.Store = sqlite3store.NewWithCleanupInterval(db, 0)
	expiry := time.Now().Add(time.Hour)
	var token string
	for range seededSessions {
		raw := make([]byte, 32)
		rand.Read(raw)
		token = base64.RawURLEncoding.EncodeToString(raw)
		data, _ := sm.Codec.Encode(expiry, map[string]any{"user_id": 1})
		if err := sm.Store.Commit(token, data, expiry); err != nil {
			b.Fatal(err)
		}
	}
	key := make([]byte, 32)
	app := http.NewServeMux()
	app.HandleFunc("GET /api/security/csrf-token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if sm.GetInt(r.Context(), "user_id") == 0 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]string{"token": csrf.Token(r)},
			"message": "CSRF token issued"})
	})
	h := sm.LoadAndSave(csrf.Protect(key, csrf.Secure(false))(app))
	// gorilla/csrf's own cookie, as a browser would send it back.
	first := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/security/csrf-token", nil)
	req.AddCookie(&http.Cookie{Name: sm.Cookie.Name, Value: token})
	h.ServeHTTP(first, req)
	for _, c := range first.Result().Cookies() {
		if c.Name == "_gorilla_csrf" {
			req.AddCookie(c)
		}
	}
	run(b, h, req)
}

func run(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req.Clone(req.Context()))
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
