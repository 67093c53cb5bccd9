package hibp_test

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/security"
)

// fakeHIBP is a local stand-in for api.pwnedpasswords.com.
type fakeHIBP struct {
	t       *testing.T
	handler func(w http.ResponseWriter, r *http.Request)
	calls   atomic.Int64
	mu      sync.Mutex
	reqs    []*http.Request
}

func (f *fakeHIBP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.mu.Unlock()
	f.handler(w, r)
}

func (f *fakeHIBP) lastRequest() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func newFake(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) (*fakeHIBP, *httptest.Server) {
	f := &fakeHIBP{t: t, handler: h}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func body(s string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, s) }
}

const (
	sufPassword = "1E4C9B93F3F0682250B6CF8331B7EE68FD8" // "password" is 5BAA6 + this
	sufOther    = "1D2DA4053E34E76F6576ED1DA63134B5E2A"
)

func TestRange(t *testing.T) {
	padding := "1E4C9B93F3F0682250B6CF8331B7EE68FD9:0\r\n"
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		cfg     hibp.Config
		want    map[string]int64 // suffix → count; nil when an error is expected
		status  int              // the SourceError's status
		retry   time.Duration
		errText string
		timeout bool // the error is a timeout
	}{
		{name: "crlf", handler: body(sufOther + ":3\r\n" + sufPassword + ":10434004\r\n"),
			want: map[string]int64{sufOther: 3, sufPassword: 10434004}},
		{name: "lf", handler: body(sufOther + ":3\n" + sufPassword + ":10434004\n"),
			want: map[string]int64{sufOther: 3, sufPassword: 10434004}},
		{name: "no final newline", handler: body(sufOther + ":3\r\n" + sufPassword + ":10434004"),
			want: map[string]int64{sufOther: 3, sufPassword: 10434004}},
		{name: "padding dropped", handler: body(sufOther + ":3\r\n" + sufPassword + ":10434004\r\n" + padding),
			want: map[string]int64{sufOther: 3, sufPassword: 10434004}},
		{name: "gzip", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			z := gzip.NewWriter(w)
			fmt.Fprint(z, sufPassword+":10434004\r\n")
			z.Close()
		}, want: map[string]int64{sufPassword: 10434004}},

		{name: "malformed line", handler: body(sufOther + ":3\r\nnot a row\r\n"), errText: "line 2: not SUFFIX:COUNT"},
		{name: "empty body", handler: body(""), errText: "empty range body"},
		{name: "html error page", handler: body("<html>maintenance</html>"), errText: "line 1"},
		{name: "truncated body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			fmt.Fprint(w, sufPassword+":10434004\r\n")
		}, errText: "reading the response"},
		{name: "truncated line", handler: body(sufOther + ":3\r\n" + sufPassword[:20]), errText: "line 2"},
		{name: "oversized body", cfg: hibp.Config{MaxResponseBytes: 100},
			handler: body(strings.Repeat(sufOther+":3\r\n", 10)), errText: "longer than 100 bytes"},
		{name: "oversized gzip body", cfg: hibp.Config{MaxResponseBytes: 1000}, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			z := gzip.NewWriter(w)
			fmt.Fprint(z, strings.Repeat("0", 1<<20)) // a small body that inflates
			z.Close()
		}, errText: "longer than 1000 bytes"},
		{name: "404", handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, status: 404},
		{name: "429 with Retry-After", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}, status: 429, retry: 2 * time.Second},
		{name: "503 with Retry-After date", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "Sun, 01 Jun 2025 12:01:30 GMT")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, status: 503, retry: 90 * time.Second},
		{name: "500", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, status: 500},
		{name: "timeout", cfg: hibp.Config{Timeout: 50 * time.Millisecond}, handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers in time
		}, timeout: true},
		{name: "slow body", cfg: hibp.Config{Timeout: 50 * time.Millisecond}, handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, sufOther+":3\r\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, errText: "reading the response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t, tt.handler)
			cfg := tt.cfg
			cfg.BaseURL = srv.URL
			cfg.Clock = fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
			c, err := hibp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Range(context.Background(), "5baa6")
			if f.calls.Load() != 1 {
				t.Fatalf("%d upstream calls", f.calls.Load())
			}
			req := f.lastRequest()
			if req.URL.Path != "/range/5BAA6" || req.URL.RawQuery != "" || req.Header.Get("Add-Padding") != "true" ||
				!strings.HasPrefix(req.Header.Get("User-Agent"), "propsec/") {
				t.Fatalf("request %s %v", req.URL, req.Header)
			}
			if tt.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if r.Prefix() != "5BAA6" || r.Len() != len(tt.want) {
					t.Fatalf("range %v", r.Entries())
				}
				for s, n := range tt.want {
					if r.Count(s) != n {
						t.Fatalf("Count(%s) = %d, want %d", s, r.Count(s), n)
					}
				}
				return
			}
			var se *breach.SourceError
			if r != nil || !errors.As(err, &se) || !errors.Is(err, security.ErrUnavailable) || errors.Is(err, security.ErrInvalid) {
				t.Fatalf("got %v, %v; want an unavailable SourceError", r, err)
			}
			if se.Source != "hibp" || se.Status != tt.status || se.RetryAfter != tt.retry || !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("error %#v: %v", se, err)
			}
			var te interface{ Timeout() bool }
			if tt.timeout && !(errors.As(err, &te) && te.Timeout()) {
				t.Fatalf("error %v is not a timeout", err)
			}
		})
	}
}

func TestNTLM(t *testing.T) {
	f, srv := newFake(t, body("7EAEE8FB117AD06BDD830B7586C:12345\r\n0000000000000000000000000AB:0\r\n"))
	c, err := hibp.New(hibp.Config{BaseURL: srv.URL + "/", NTLM: true})
	if err != nil {
		t.Fatal(err)
	}
	chk, _ := breach.New(breach.Config{Source: c})
	res, err := chk.CheckHash(context.Background(), "8846F7EAEE8FB117AD06BDD830B7586C")
	if err != nil || res.Count != 12345 {
		t.Fatalf("%+v, %v", res, err)
	}
	if req := f.lastRequest(); req.URL.Path != "/range/8846F" || req.URL.RawQuery != "mode=ntlm" {
		t.Fatalf("request %s", req.URL)
	}
	if c.Kind() != breach.NTLM {
		t.Fatal(c.Kind())
	}
	// A SHA-1 body in NTLM mode is malformed.
	_, srv2 := newFake(t, body(sufPassword+":1\r\n"))
	c2, _ := hibp.New(hibp.Config{BaseURL: srv2.URL, NTLM: true})
	if _, err := c2.Range(context.Background(), "8846F"); !errors.Is(err, breach.ErrSourceUnavailable) {
		t.Fatalf("SHA-1 body in NTLM mode: %v", err)
	}
}

// Concurrent requests for one prefix make exactly one upstream call.
func TestConcurrentOnePrefix(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	f, srv := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
		fmt.Fprint(w, sufPassword+":10434004\r\n")
	})
	c, _ := hibp.New(hibp.Config{BaseURL: srv.URL})
	chk, _ := breach.New(breach.Config{Source: c})
	const n = 16
	var joined atomic.Int64
	t.Cleanup(hibp.SetTestHookJoined(func() { joined.Add(1) }))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			res, err := chk.CheckPassword(context.Background(), "password")
			if err == nil && res.Count != 10434004 {
				err = fmt.Errorf("result %+v", res)
			}
			errs <- err
		})
	}
	// Release the upstream answer only once every caller has started or
	// joined the request: all n are then concurrent by construction.
	for arrived.Load() == 0 || joined.Load() < n {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("%d upstream calls for one prefix, want 1", got)
	}
}

func TestCallerCancel(t *testing.T) {
	release := make(chan struct{})
	f, srv := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, sufPassword+":1\r\n")
	})
	c, _ := hibp.New(hibp.Config{BaseURL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Range(ctx, "5BAA6")
		done <- err
	}()
	for f.calls.Load() == 0 {
		runtime.Gosched()
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, breach.ErrSourceUnavailable) {
		t.Fatalf("err = %v", err)
	}
	close(release)
}

func TestNew(t *testing.T) {
	for _, u := range []string{"ftp://x", "api.pwnedpasswords.com", "https://", "https://x/?q=1", "://"} {
		if _, err := hibp.New(hibp.Config{BaseURL: u}); err == nil {
			t.Errorf("BaseURL %q accepted", u)
		}
	}
	c, err := hibp.New(hibp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if ua := c.UserAgent(); !strings.HasPrefix(ua, "propsec/") || !strings.Contains(ua, "github.com/propops/propsec") {
		t.Fatalf("User-Agent %q", ua)
	}
	if c.Kind() != breach.SHA1 {
		t.Fatal(c.Kind())
	}
	c, _ = hibp.New(hibp.Config{UserAgent: "host-app/1.0 (propsec)"})
	if c.UserAgent() != "host-app/1.0 (propsec)" {
		t.Fatal(c.UserAgent())
	}
	if _, err := c.Range(context.Background(), "5BAA"); !errors.Is(err, security.ErrInvalid) {
		t.Fatalf("bad prefix: %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c, _ := hibp.New(hibp.Config{BaseURL: url, ConnectTimeout: time.Second})
	if _, err := c.Range(context.Background(), "5BAA6"); !errors.Is(err, breach.ErrSourceUnavailable) {
		t.Fatalf("err = %v", err)
	}
}
