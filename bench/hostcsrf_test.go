package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/csrf"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// A form POST to a host route behind RequireAuth, with each CSRF
// middleware in turn on the same session store: httpadapter's Protect with
// reusable form tokens (the default) and with single-use ones, gorilla/csrf's
// Protect, and no CSRF check at all (what the middleware adds is the
// difference). The request is built anew each time (its body is read), the
// same for every stack.
//
//	go test -run '^$' -bench HostFormPOST -benchtime 2s -count 6 . | tee host.txt; benchstat host.txt
func BenchmarkHostFormPOST(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { benchHostForm(b, memstore.New()) })
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "h.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchHostForm(b, st)
	})
}

const hostOrigin = "https://app.example"

func benchHostForm(b *testing.B, st propsecStore) {
	cookie := seedSessions(b, st)
	mgr, err := session.New(session.Config{Store: st, Users: st.(session.UserDirectory)})
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	c, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: st})
	if err != nil {
		b.Fatal(err)
	}
	handler := func(singleUse bool) *httpadapter.Handler {
		h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: c, SingleUseFormTokens: singleUse})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	reusable, single := handler(false), handler(true)
	// The host's route: GET writes the page's token (from token), POST
	// reads the form, as a real one would.
	routeOf := func(token func(*http.Request) string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.Write([]byte(token(r)))
				return
			}
			if r.PostFormValue("note") != "hi" {
				w.WriteHeader(http.StatusBadRequest)
			}
		})
	}
	route := routeOf(httpadapter.CSRFToken)
	propsecCookie := &http.Cookie{Name: httpadapter.DefaultCookieName, Value: cookie}

	// page renders GET /notes through h and returns the page's token and
	// any cookie it set.
	page := func(h http.Handler, extra ...*http.Cookie) (string, []*http.Cookie) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", hostOrigin+"/notes", nil)
		r.AddCookie(propsecCookie)
		for _, ck := range extra {
			r.AddCookie(ck)
		}
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.Len() == 0 {
			b.Fatalf("GET: %d %q", w.Code, w.Body)
		}
		return w.Body.String(), w.Result().Cookies()
	}
	post := func(h http.Handler, token string, cookies []*http.Cookie) {
		r := httptest.NewRequest("POST", hostOrigin+"/notes", strings.NewReader("note=hi&csrf_token="+url.QueryEscape(token)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", hostOrigin)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.AddCookie(propsecCookie)
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("POST: %d %q", w.Code, w.Body)
		}
	}

	b.Run("no-csrf", func(b *testing.B) {
		h := reusable.RequireAuth(route)
		cpuLoop(b, nil, nil, func() { post(h, "", nil) })
	})
	b.Run("propsec-reusable", func(b *testing.B) {
		h := reusable.RequireAuth(reusable.Protect(route))
		tok, _ := page(h)
		cpuLoop(b, nil, nil, func() { post(h, tok, nil) })
	})
	b.Run("propsec-single-use", func(b *testing.B) {
		// Each POST spends a token of its own, issued by a page render
		// outside the timer, in batches.
		h := single.RequireAuth(single.Protect(route))
		var tokens []string
		refill := func() {
			for range 512 {
				tok, _ := page(h)
				tokens = append(tokens, tok)
			}
		}
		cpuLoop(b, func() bool { return len(tokens) == 0 }, refill, func() {
			post(h, tokens[len(tokens)-1], nil)
			tokens = tokens[:len(tokens)-1]
		})
	})
	b.Run("gorilla-csrf", func(b *testing.B) {
		h := reusable.RequireAuth(csrf.Protect(key, csrf.FieldName("csrf_token"))(routeOf(csrf.Token)))
		tok, cookies := page(h) // sets gorilla's own cookie, as a browser would send it back
		cpuLoop(b, nil, nil, func() { post(h, tok, cookies) })
	})
}

// cpuLoop runs f in a b.Loop, reporting allocations and the process's CPU
// time per iteration as cpu-ns/op (which other processes on a busy machine
// disturb far less than the wall time). When empty is set and reports
// true before an iteration, refill runs with the timer stopped and its CPU
// time left out; it should prepare a batch of iterations' worth.
func cpuLoop(b *testing.B, empty func() bool, refill, f func()) {
	b.ReportAllocs()
	var excluded time.Duration
	start := processCPU()
	for b.Loop() {
		if empty != nil && empty() {
			b.StopTimer()
			t0 := processCPU()
			refill()
			excluded += processCPU() - t0
			b.StartTimer()
		}
		f()
	}
	b.ReportMetric(float64(processCPU()-start-excluded)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuTime(ru)
}
