// Command peer is the stack a Go developer would otherwise pick for what
// propsec does on an authenticated request: alexedwards/scs sessions in
// SQLite (modernc.org/sqlite, the same driver propsec uses) and gorilla/csrf,
// serving the same authenticated GET /api/security/csrf-token. It exists only
// to be measured beside propsec by bench/http.sh.
//
// At start it seeds -sessions live sessions and prints one session cookie
// ("cookie NAME=VALUE"), then "listening on http://ADDR". /bare is a plain
// net/http handler writing the same JSON with no session or CSRF at all,
// the ceiling for this machine.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/csrf"
	_ "modernc.org/sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	dbPath := flag.String("db", "peer.db", "SQLite file")
	n := flag.Int("sessions", 10000, "live sessions to seed")
	flag.Parse()

	db, err := sql.Open("sqlite", "file:"+*dbPath+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	check(err)
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL);
		CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions(expiry);`)
	check(err)

	sm := scs.New()
	sm.Store = sqlite3store.NewWithCleanupInterval(db, 0)
	sm.Lifetime = 12 * time.Hour
	sm.Cookie.Secure = false

	// Seed sessions the way scs would have written them at login.
	expiry := time.Now().Add(sm.Lifetime)
	var last string
	tx, err := db.Begin()
	check(err)
	for range *n {
		b := make([]byte, 32)
		rand.Read(b)
		last = base64.RawURLEncoding.EncodeToString(b)
		data, err := sm.Codec.Encode(expiry, map[string]any{"user_id": 1})
		check(err)
		_, err = tx.Exec("REPLACE INTO sessions (token, data, expiry) VALUES ($1, $2, julianday($3))",
			last, data, expiry.UTC().Format("2006-01-02T15:04:05.999"))
		check(err)
	}
	check(tx.Commit())

	key := make([]byte, 32)
	rand.Read(key)
	protect := csrf.Protect(key, csrf.Secure(false), csrf.Path("/"))

	app := http.NewServeMux()
	app.HandleFunc("GET /api/security/csrf-token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if sm.GetInt(r.Context(), "user_id") == 0 {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"success":false,"message":"authentication required","error":"unauthenticated"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]string{"token": csrf.Token(r)},
			"message": "CSRF token issued"})
	})
	root := http.NewServeMux()
	root.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]string{"token": "0123456789abcdef"},
			"message": "CSRF token issued"})
	})
	root.Handle("/", sm.LoadAndSave(protect(app)))

	ln, err := net.Listen("tcp", *addr)
	check(err)
	fmt.Printf("cookie %s=%s\n", sm.Cookie.Name, last)
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: root, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
