package browsertest

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// site is a small app under a strict CSP: a form whose script (from a file,
// no inline code) posts a value with fetch and shows the answer.
func site(t *testing.T, body string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(html string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Test page</title>
<script src="/app.js" defer></script></head><body><main>`+html+`</main></body></html>`)
		}
	}
	mux.HandleFunc("GET /{$}", page(body))
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, `document.addEventListener('submit', async e => {
	e.preventDefault();
	const v = e.target.elements.word.value;
	const r = await fetch('/echo', {method: 'POST', headers: {'X-Test': 'yes'}, body: 'word=' + v.slice(0, 2)});
	document.querySelector('#out').textContent = await r.text();
});`)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", b)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const form = `<h1>Echo</h1><form><label for="w">Word</label> <input id="w" name="word">
<button type="submit">Send it</button></form><p id="out" aria-live="polite"></p>
<a href="/">A link</a>`

// The helpers drive a real page over TLS: typing, clicking by text, waiting
// for text, the keyboard, the request recorder (URL, method, headers,
// body) and a full-page screenshot at the phone's width.
func TestPageHelpers(t *testing.T) {
	srv := site(t, form)
	p := Start(t, Options{})
	rec := p.Record()
	p.Navigate(srv.URL)
	require.Equal(t, "Test page", p.Title())
	require.Equal(t, srv.URL+"/", p.URL())
	p.Fill("word", "secret-word")
	p.ClickText("Send it")
	require.Equal(t, "got word=se", p.WaitText("#out", "got"))
	require.True(t, p.HasText("got word=se"))
	require.True(t, p.Has("form button"))
	require.False(t, p.Has("table"))
	require.Equal(t, 1, p.Count("a"))

	var echo *Request
	all := rec.Requests()
	for i, r := range all {
		if strings.HasSuffix(r.URL, "/echo") {
			echo = &all[i]
		}
		require.NotContains(t, r.String(), "secret-word", "only two letters leave the page")
	}
	require.NotNil(t, echo, "the fetch is recorded: %v", all)
	require.Equal(t, "POST", echo.Method)
	require.Equal(t, "Fetch", echo.Type)
	require.Equal(t, "word=se", echo.PostData)
	require.Equal(t, "yes", echo.Headers["X-Test"])
	require.GreaterOrEqual(t, len(all), 3, "the page, its script and the fetch")
	rec.Reset()
	require.Empty(t, rec.Requests())

	// The keyboard alone: from the top, Tab reaches the button; Enter sends.
	p.Navigate(srv.URL)
	p.TabTo("input[name=word]", 5)
	p.Press("hi")
	p.TabTo("button", 3)
	require.Contains(t, p.Focused(), `button "Send it"`)
	p.Press("\r")
	p.WaitText("#out", "got word=hi")

	p.SetViewport(Phone)
	path := p.Screenshot("phone")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, int(Phone.Width), img.Bounds().Dx())
	require.Contains(t, path, ScreenshotDir(t))
	small, err := png.Decode(bytes.NewReader(p.ScreenshotPNG(0.5)))
	require.NoError(t, err)
	require.Equal(t, int(Phone.Width)/2, small.Bounds().Dx())
}

// A link to an attachment downloads it, in the first tab and in another
// browser context.
func TestDownload(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><title>d</title><a id="csv" href="/report.csv">CSV</a>`)
	})
	mux.HandleFunc("/report.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="report-2026.csv"`)
		io.WriteString(w, "a,b\n1,2\n")
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	p := Start(t, Options{})
	for _, q := range []*Page{p, p.NewPage()} {
		q.Navigate(srv.URL)
		name, data := q.Download("#csv")
		require.Equal(t, "report-2026.csv", name)
		require.Equal(t, "a,b\n1,2\n", string(data))
	}
}

// Two pages of one browser keep separate cookies.
func TestNewPageIsolated(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "who", Value: "a", Path: "/", Secure: true})
		io.WriteString(w, "set")
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	a := Start(t, Options{})
	a.Navigate(srv.URL + "/set")
	require.Equal(t, []string{"who"}, a.Cookies())
	b := a.NewPage()
	b.Navigate(srv.URL + "/")
	require.Empty(t, b.Cookies())
}

// fakeT catches a Fatalf or Skip, which end the goroutine as testing.T's do.
type fakeT struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeT) Skip(args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// catch runs f with a fakeT on its own goroutine and returns it once f
// returned or ended the goroutine.
func catch(t *testing.T, f func(ft *fakeT)) *fakeT {
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ft)
	}()
	<-done
	return ft
}

// axe-core finds a missing alt text and an unnamed button (critical), and
// Axe fails with a list naming the rule, its impact and the element; a
// clean page passes. The page's CSP does not stop the injection.
func TestAxe(t *testing.T) {
	srv := site(t, `<h1>Broken</h1><img src="/x.png" id="pic"><button id="empty"></button>`)
	p := Start(t, Options{})
	p.Navigate(srv.URL)
	ids := map[string]string{}
	for _, v := range p.AxeViolations() {
		ids[v.ID] = v.Impact
	}
	require.Equal(t, "critical", ids["image-alt"], ids)
	require.Equal(t, "critical", ids["button-name"], ids)

	ft := catch(t, func(ft *fakeT) {
		q := &Page{t: ft, ctx: p.ctx}
		q.Axe()
	})
	require.Contains(t, ft.fatal, "serious or critical violation")
	require.Contains(t, ft.fatal, "image-alt (critical)")
	require.Contains(t, ft.fatal, "#pic")
	require.Contains(t, ft.fatal, "page: "+srv.URL)
	require.Contains(t, ft.fatal, "screenshot: "+ScreenshotDir(t))

	clean := site(t, form)
	p.Navigate(clean.URL)
	p.Axe()
}

// Without a browser the test is skipped with what to install; under
// PROPSEC_TEST_BROWSER_REQUIRED=1 it fails.
func TestMissingBrowser(t *testing.T) {
	t.Setenv(EnvChromium, "/nonexistent/chromium")
	t.Setenv(EnvRequired, "")
	ft := catch(t, func(ft *fakeT) { Start(ft, Options{}) })
	require.Contains(t, ft.skipped, "/nonexistent/chromium")
	require.Empty(t, ft.fatal)

	t.Setenv(EnvChromium, "")
	t.Setenv("PATH", t.TempDir())
	ft = catch(t, func(ft *fakeT) { Start(ft, Options{}) })
	require.Contains(t, ft.skipped, "apt-get install chromium")

	t.Setenv(EnvFirefox, "")
	ft = catch(t, func(ft *fakeT) { StartFirefox(ft) })
	require.Contains(t, ft.skipped, "apt-get install firefox-esr")

	t.Setenv(EnvRequired, "1")
	ft = catch(t, func(ft *fakeT) { Start(ft, Options{}) })
	require.Contains(t, ft.fatal, "apt-get install chromium")
	require.Contains(t, ft.fatal, EnvRequired+"=1")
	require.Empty(t, ft.skipped)
	ft = catch(t, func(ft *fakeT) { StartFirefox(ft) })
	require.Contains(t, ft.fatal, "apt-get install firefox-esr")
}

func TestQuoting(t *testing.T) {
	require.Equal(t, `"a\"b\\c"`, jsString(`a"b\c`))
	require.Equal(t, `"x\u000ay"`, jsString("x\ny"))
	require.Equal(t, `'it'`, xpathString("it"))
	require.Equal(t, `"it's"`, xpathString("it's"))
	require.Equal(t, `concat('a"b', "'", 'c')`, xpathString(`a"b'c`))
	require.Equal(t, `"a\"b"`, cssString(`a"b`))
}

// SmallPNG keeps the size and the main colours of a screenshot and makes
// it smaller.
func TestSmallPNG(t *testing.T) {
	srv := site(t, form)
	p := Start(t, Options{})
	p.Navigate(srv.URL)
	shot := p.ScreenshotTop(0.625, 600)
	small, err := SmallPNG(shot, 64)
	require.NoError(t, err)
	a, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	b, err := png.Decode(bytes.NewReader(small))
	require.NoError(t, err)
	require.Equal(t, a.Bounds(), b.Bounds())
	require.Equal(t, 800, b.Bounds().Dx())
	require.Equal(t, 375, b.Bounds().Dy(), "600 CSS pixels of the page at 0.625")
	require.Less(t, len(small), len(shot))
	// The page's white background stays white.
	r, g, bl, _ := b.At(790, 370).RGBA()
	require.Equal(t, [3]uint32{0xffff, 0xffff, 0xffff}, [3]uint32{r, g, bl})
	_, err = SmallPNG([]byte("not a png"), 64)
	require.Error(t, err)
}

// Firefox, through WebDriver BiDi: the same small site, typed into with
// key events, its fetch seen, a screenshot, axe-core, no console errors.
func TestFirefox(t *testing.T) {
	srv := site(t, form)
	f := StartFirefox(t)
	f.Navigate(srv.URL)
	require.Equal(t, "Test page", FirefoxEval[string](f, `document.title`))
	f.Type("input[name=word]", "secret-word")
	f.Click("Send it")
	f.WaitText("#out", "got word=se")
	var echo bool
	for _, r := range f.Requests() {
		require.NotContains(t, r, "secret-word")
		echo = echo || r == "POST "+srv.URL+"/echo"
	}
	require.True(t, echo, "the fetch is seen: %v", f.Requests())
	f.Axe()
	f.SetViewport(Phone)
	require.Equal(t, 390, FirefoxEval[int](f, `document.documentElement.clientWidth`))
	data, err := os.ReadFile(f.Screenshot("phone"))
	require.NoError(t, err)
	_, err = png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Empty(t, f.ConsoleErrors())
	FirefoxEval[bool](f, `(console.error('boom'), true)`)
	require.Equal(t, []string{"boom"}, f.ConsoleErrors())
}

// A passkey is made and used on an httptest TLS server reached at
// localhost, with the virtual authenticator: what the passkey tests need.
func TestVirtualAuthenticator(t *testing.T) {
	srv := site(t, `<h1>Passkeys</h1>`)
	require.Equal(t, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), Localhost(srv.URL))
	p := Start(t, Options{})
	p.Navigate(Localhost(srv.URL))
	auth := p.AddVirtualAuthenticator()
	require.Empty(t, p.Credentials(auth))
	made := Eval[string](p, `navigator.credentials.create({publicKey: {
		rp: {id: 'localhost', name: 'propsec'}, user: {id: new Uint8Array([1, 2, 3]), name: 'jane', displayName: 'Jane'},
		challenge: new Uint8Array(32), pubKeyCredParams: [{type: 'public-key', alg: -7}],
		authenticatorSelection: {residentKey: 'required', userVerification: 'required'}}}).then(c => c.id, e => 'error ' + e.name)`)
	require.NotContains(t, made, "error")
	creds := p.Credentials(auth)
	require.Len(t, creds, 1)
	require.Equal(t, "localhost", creds[0].RpID)
	before := creds[0].SignCount
	used := Eval[string](p, `navigator.credentials.get({publicKey: {rpId: 'localhost', challenge: new Uint8Array(32),
		userVerification: 'required'}}).then(c => c.id, e => 'error ' + e.name)`)
	require.Equal(t, made, used)
	require.Greater(t, p.Credentials(auth)[0].SignCount, before, "the assertion counted")
}
