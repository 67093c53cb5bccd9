// Package browsertest drives a real, headless Chromium from Go tests with
// chromedp: it finds the browser, starts one per test in a throwaway
// profile, and gives small helpers for the usual steps (navigate, fill,
// click, read), accessibility checks with axe-core, full-page screenshots
// and a recorder of every request a page makes.
//
// # Finding the browser
//
// [Start] looks for $PROPSEC_CHROMIUM, then chromium, chromium-browser,
// google-chrome and google-chrome-stable on PATH. Without one the test is
// skipped with a message naming what to install (apt-get install chromium),
// unless PROPSEC_TEST_BROWSER_REQUIRED=1, as in CI, where it fails.
//
// # Pages
//
// A [Page] is one tab. [Start] starts a browser and returns its first tab;
// [Page.NewPage] opens another tab in a fresh browser context (its own
// cookies: another person). Every helper fails the test on error with the
// page's URL and the path of a screenshot taken at that moment; each step
// has a deadline ([Page.Timeout]). For anything the helpers do not cover,
// [Page.Do] and [Run] run chromedp actions on the tab, and [Page.Context]
// is the chromedp context (for chromedp.Call with any cdproto command, such
// as the WebAuthn virtual authenticator).
//
// # Passkeys
//
// [Page.AddVirtualAuthenticator] gives the tab a virtual platform
// authenticator (the DevTools WebAuthn domain) and [Page.Credentials] reads
// what it holds; [Localhost] gives an httptest server's URL at localhost,
// a host name WebAuthn accepts as the relying party ID.
//
// # Accessibility
//
// [Page.Axe] injects axe-core into the current page through the DevTools
// protocol (not a script tag: pages under a strict CSP refuse those) and
// fails the test on any violation of impact serious or critical. axe-core
// is read from $PROPSEC_AXE_CORE (a path to axe.min.js) or installed with
// `npm install axe-core@4` into a temporary directory once per test binary;
// it is never committed. Without npm the test skips or fails as without a
// browser.
//
// # Screenshots
//
// [Page.Screenshot] saves a full-page PNG into one temporary directory per
// test binary ([ScreenshotDir]), named in the test output once.
// [SmallPNG] makes one small enough for a README.
//
// # Firefox
//
// chromedp speaks only Chrome's protocol. [StartFirefox] drives Debian's
// firefox-esr (or $PROPSEC_FIREFOX) through WebDriver BiDi, the W3C
// protocol Firefox speaks natively, with a smaller set of helpers
// ([Firefox]): navigate, evaluate, type keys, click, wait, set the
// viewport, screenshots, axe-core, the URLs of the page's requests and its
// console errors. It skips or fails without Firefox as [Start] does
// without Chromium (`apt-get install firefox-esr`).
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Environment variables read by this package.
const (
	// EnvChromium names the browser executable to use.
	EnvChromium = "PROPSEC_CHROMIUM"
	// EnvRequired, set to 1, makes a missing browser, npm or axe-core
	// fail the test rather than skip it.
	EnvRequired = "PROPSEC_TEST_BROWSER_REQUIRED"
	// EnvAxeCore is the path of an axe.min.js to use instead of
	// installing axe-core with npm.
	EnvAxeCore = "PROPSEC_AXE_CORE"
)

// DefaultTimeout bounds each step of a [Page] unless [Page.Timeout] is set.
const DefaultTimeout = 30 * time.Second

// Viewport is the size of the page's window in CSS pixels.
type Viewport struct {
	Width, Height int64
	// Mobile emulates a phone: touch, the meta viewport honoured.
	Mobile bool
}

// The viewports the tests use.
var (
	// Desktop is a laptop's window.
	Desktop = Viewport{Width: 1280, Height: 800}
	// Phone is a current phone held upright.
	Phone = Viewport{Width: 390, Height: 844, Mobile: true}
)

// Options configure [Start].
type Options struct {
	// Viewport of the first tab; zero means [Desktop].
	Viewport Viewport
	// Flags are extra command-line flags of the browser (name without
	// the leading dashes; a bool true for a flag without a value).
	Flags map[string]any
}

// Page is one browser tab driven by a test.
type Page struct {
	t   testing.TB
	ctx context.Context
	// Timeout bounds each step; zero means DefaultTimeout.
	Timeout time.Duration
}

// browserCandidates are the executables looked for on PATH, in order.
var browserCandidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// FindBrowser returns the path of the browser to drive: $PROPSEC_CHROMIUM
// if set, else the first of chromium, chromium-browser, google-chrome and
// google-chrome-stable found on PATH.
func FindBrowser() (string, error) {
	return findExecutable("Chromium", EnvChromium, browserCandidates, "chromium")
}

// findExecutable returns $env if set (and there), else the first of
// candidates on PATH; its error names what to install.
func findExecutable(what, env string, candidates []string, pkg string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s found (looked for %s on PATH and $%s): install it with `apt-get install %s`",
		what, strings.Join(candidates, ", "), env, pkg)
}

// Required reports whether PROPSEC_TEST_BROWSER_REQUIRED=1.
func Required() bool { return os.Getenv(EnvRequired) == "1" }

// unavailable skips the test, or fails it under PROPSEC_TEST_BROWSER_REQUIRED=1.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1)", msg, EnvRequired)
	}
	t.Skip(msg)
}

// Start starts a headless browser for t, stopped when t ends, and returns
// its first tab, blank. It skips t when no browser is installed (fails
// under PROPSEC_TEST_BROWSER_REQUIRED=1). The browser accepts the
// self-signed certificates of httptest.NewTLSServer.
func Start(t testing.TB, o Options) *Page {
	t.Helper()
	exe, err := FindBrowser()
	if err != nil {
		unavailable(t, "%v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.IgnoreCertErrors,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
	}
	for name, v := range o.Flags {
		opts = append(opts, chromedp.Flag(name, v))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	p := &Page{t: t, ctx: ctx}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		_ = chromedp.Cancel(sctx)
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser: under the long-lived context, not
	// a step's deadline, which would stop the browser with it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("browsertest: starting %s: %v", exe, err)
	}
	if o.Viewport == (Viewport{}) {
		o.Viewport = Desktop
	}
	p.SetViewport(o.Viewport)
	return p
}

// NewPage opens a tab of the same browser in a fresh browser context: no
// cookies or storage shared with p, as another person's browser. It has
// the Desktop viewport and is closed when the test ends.
func (p *Page) NewPage() *Page {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx, chromedp.WithNewBrowserContext())
	np := &Page{t: p.t, ctx: ctx, Timeout: p.Timeout}
	p.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		p.t.Fatalf("browsertest: opening a tab: %v", err)
	}
	np.SetViewport(Desktop)
	return np
}

// Context is the tab's chromedp context, for chromedp.Run, chromedp.Call
// and chromedp.Listen. It lives until the test ends.
func (p *Page) Context() context.Context { return p.ctx }

// T is the test the page belongs to.
func (p *Page) T() testing.TB { return p.t }

func (p *Page) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

// step returns a context bounded by the step timeout.
func (p *Page) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, p.timeout())
}

// Do runs chromedp actions on the tab, each step bounded by the timeout,
// and fails the test on error.
func (p *Page) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.Fatalf("%s: %v", what, err)
	}
}

// Run runs one chromedp action on p's tab and returns its value; it fails
// the test on error.
func Run[T any](p *Page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.Fatalf("%s: %v", what, err)
	}
	return v
}

// Eval evaluates a JavaScript expression in the page (promises awaited)
// and decodes its JSON value into T; it fails the test on error or
// exception.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	return Run(p, "evaluating "+abbrev(expr), chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Fatalf fails the test with the message, the page's URL and the path of a
// screenshot taken now.
func (p *Page) Fatalf(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		url = "(unknown: " + err.Error() + ")"
	}
	shot := "(none)"
	if data, err := fullPage(ctx, 1); err == nil {
		if path, err := p.save("failure", data); err == nil {
			shot = path
		}
	}
	p.t.Fatalf("browsertest: %s\n  page: %s\n  screenshot: %s", msg, url, shot)
}

// SetViewport resizes the tab's window.
func (p *Page) SetViewport(v Viewport) {
	p.t.Helper()
	var opts []chromedp.EmulateViewportOption
	if v.Mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	p.Do(fmt.Sprintf("setting the viewport to %dx%d", v.Width, v.Height), chromedp.EmulateViewport(v.Width, v.Height, opts...))
}

// Navigate loads url and waits for its load event.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	p.Do("navigating to "+url, chromedp.Navigate(url))
}

// URL is the page's current address.
func (p *Page) URL() string {
	p.t.Helper()
	return Run(p, "reading the location", chromedp.Location())
}

// Title is the page's title.
func (p *Page) Title() string {
	p.t.Helper()
	return Run(p, "reading the title", chromedp.Title())
}

// field is the CSS selector of the form control named name.
func field(name string) chromedp.CSS {
	q := cssString(name)
	return chromedp.CSS(fmt.Sprintf(`input[name=%[1]s], textarea[name=%[1]s], select[name=%[1]s]`, q))
}

// Fill clears the visible input (or textarea) named name and types value
// into it, key by key, as a person does.
func (p *Page) Fill(name, value string) {
	p.t.Helper()
	p.Type(string(field(name)), value)
}

// Type clears the first visible input or textarea matching the CSS
// selector and types value into it, key by key.
func (p *Page) Type(css, value string) {
	p.t.Helper()
	sel := chromedp.CSS(css)
	what := fmt.Sprintf("typing into %s", css)
	p.Do(what, chromedp.WaitVisible(sel))
	if !Eval[bool](p, fmt.Sprintf(`(() => {
		const e = [...document.querySelectorAll(%s)].find(e => e.getClientRects().length > 0);
		if (!e) return false;
		e.focus();
		e.value = '';
		e.dispatchEvent(new Event('input', {bubbles: true}));
		return true;
	})()`, jsString(css))) {
		p.Fatalf("%s: no visible field", what)
	}
	p.Press(value)
}

// Select chooses the option with value in the select named name and fires
// its input and change events.
func (p *Page) Select(name, value string) {
	p.t.Helper()
	p.Do(fmt.Sprintf("selecting %q in %q", value, name), chromedp.WaitVisible(field(name)))
	ok := Eval[bool](p, fmt.Sprintf(`(() => {
		const s = document.querySelector(%s);
		if (!s || ![...s.options].some(o => o.value === %s)) return false;
		s.value = %[2]s;
		s.dispatchEvent(new Event('input', {bubbles: true}));
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`, jsString(string(field(name))), jsString(value)))
	if !ok {
		p.Fatalf("select %q has no option %q", name, value)
	}
}

// Click clicks the first visible element matching the CSS selector.
func (p *Page) Click(css string) {
	p.t.Helper()
	p.Do("clicking "+css, chromedp.Click(chromedp.CSS(css)))
}

// ClickText clicks the first visible link, button or submit input whose
// text (or value, or aria-label) is text, spaces trimmed.
func (p *Page) ClickText(text string) {
	p.t.Helper()
	p.Do(fmt.Sprintf("clicking %q", text), chromedp.Click(textSelector(text)))
}

// textSelector is an XPath matching a link, button or submit input by its
// normalised text, value or aria-label.
func textSelector(text string) chromedp.Search {
	q := xpathString(text)
	return chromedp.Search(fmt.Sprintf(
		`//a[normalize-space(.)=%[1]s or @aria-label=%[1]s] | //button[normalize-space(.)=%[1]s or @aria-label=%[1]s] | //input[(@type='submit' or @type='button') and @value=%[1]s]`, q))
}

// Text is the visible text of the first element matching the CSS
// selector, waiting for it to be visible.
func (p *Page) Text(css string) string {
	p.t.Helper()
	return Run(p, "reading the text of "+css, chromedp.Text(chromedp.CSS(css)))
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (p *Page) WaitVisible(css string) {
	p.t.Helper()
	p.Do("waiting for "+css, chromedp.WaitVisible(chromedp.CSS(css)))
}

// WaitGone waits until no element matches the CSS selector.
func (p *Page) WaitGone(css string) {
	p.t.Helper()
	p.Do("waiting for "+css+" to go", chromedp.WaitNotPresent(chromedp.CSS(css)))
}

// WaitText waits until the text of an element matching the CSS selector
// contains want, and returns that text. Navigations on the way (a form
// posted, a redirect) are waited through.
func (p *Page) WaitText(css, want string) string {
	p.t.Helper()
	return waitFor[string](p, fmt.Sprintf("waiting for %q in %s", want, css), fmt.Sprintf(`(() => {
		for (const e of document.querySelectorAll(%s)) {
			const s = e.innerText || e.textContent || '';
			if (s.includes(%s)) return s;
		}
		return '';
	})()`, jsString(css), jsString(want)))
}

// WaitURL waits until the page's address matches the regular expression
// and the page has loaded, and returns the address.
func (p *Page) WaitURL(re string) string {
	p.t.Helper()
	regexp.MustCompile(re)
	return waitFor[string](p, "waiting for the address to match "+re, fmt.Sprintf(
		`document.readyState === 'complete' && new RegExp(%s).test(location.href) ? location.href : ''`, jsString(re)))
}

// WaitTrue waits until the JavaScript expression is true.
func (p *Page) WaitTrue(what, expr string) {
	p.t.Helper()
	waitFor[bool](p, what, fmt.Sprintf(`!!(%s)`, expr))
}

// waitFor evaluates expr every 50 ms until it gives a non-zero value, and
// returns it. Errors while the page navigates are retried; the step's
// timeout ends the wait with the last error.
func waitFor[T comparable](p *Page, what, expr string) T {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	var zero T
	var last error
	for {
		ectx, ecancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := chromedp.Run(ectx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
		ecancel()
		if err == nil && v != zero {
			return v
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			p.Fatalf("%s: %v", what, last)
			return zero
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Has reports whether an element matches the CSS selector now, without
// waiting.
func (p *Page) Has(css string) bool {
	p.t.Helper()
	return Eval[bool](p, fmt.Sprintf(`document.querySelector(%s) !== null`, jsString(css)))
}

// Count is the number of elements matching the CSS selector now.
func (p *Page) Count(css string) int {
	p.t.Helper()
	return Eval[int](p, fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(css)))
}

// HasText reports whether the page's visible text contains s now.
func (p *Page) HasText(s string) bool {
	p.t.Helper()
	return Eval[bool](p, fmt.Sprintf(`document.body.innerText.includes(%s)`, jsString(s)))
}

// Press sends keys to the focused element: runes, or kb constants such as
// kb.Tab and kb.Enter (github.com/chromedp/chromedp/kb).
func (p *Page) Press(keys string) {
	p.t.Helper()
	p.Do(fmt.Sprintf("pressing %q", keys), chromedp.KeyEvent(keys))
}

// Focused describes the focused element: its tag, id, name and text.
func (p *Page) Focused() string {
	p.t.Helper()
	return Eval[string](p, `(() => {
		const e = document.activeElement;
		if (!e || e === document.body) return 'body';
		let d = e.tagName.toLowerCase();
		if (e.id) d += '#' + e.id;
		if (e.name) d += '[name=' + e.name + ']';
		const s = (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ');
		return s ? d + ' "' + s.slice(0, 60) + '"' : d;
	})()`)
}

// TabTo presses Tab until the focused element matches the CSS selector,
// at most max times, and fails the test if it never does: proof that the
// element is reachable with the keyboard alone.
func (p *Page) TabTo(css string, max int) {
	p.t.Helper()
	check := fmt.Sprintf(`document.activeElement !== null && document.activeElement.matches(%s)`, jsString(css))
	var seen []string
	for range max {
		p.Press("\t")
		if Eval[bool](p, check) {
			return
		}
		seen = append(seen, p.Focused())
	}
	p.Fatalf("%s not reached with %d presses of Tab; focus went to: %s", css, max, strings.Join(seen, ", "))
}

// Cookies are the names of the cookies the tab would send to its page.
func (p *Page) Cookies() []string {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		p.Fatalf("reading cookies: %v", err)
	}
	var names []string
	for _, c := range res.Cookies {
		names = append(names, c.Name)
	}
	return names
}

// fullPage captures the whole page at scale (1 is one device pixel per
// CSS pixel) as a PNG.
func fullPage(ctx context.Context, scale float64) ([]byte, error) {
	return capture(ctx, scale, 0)
}

// capture captures the page from its top, at most maxHeight CSS pixels of
// it (0: all), at scale, as a PNG.
func capture(ctx context.Context, scale, maxHeight float64) ([]byte, error) {
	m, err := chromedp.Call(ctx, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	if m.CSSContentSize == nil {
		return nil, errors.New("no layout metrics")
	}
	w, h := m.CSSContentSize.Width, m.CSSContentSize.Height
	if maxHeight > 0 && h > maxHeight {
		h = maxHeight
	}
	if m.CSSLayoutViewport != nil && float64(m.CSSLayoutViewport.ClientWidth) > w {
		w = float64(m.CSSLayoutViewport.ClientWidth)
	}
	yes := true
	r, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		Clip:                  &page.Viewport{Width: w, Height: h, Scale: scale},
		CaptureBeyondViewport: &yes,
		FromSurface:           &yes,
	})
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

var (
	shotDirOnce sync.Once
	shotDir     string
	shotDirErr  error
)

// ScreenshotDir is the directory of this test binary's screenshots,
// created on first use and kept after the tests (so they can be looked
// at); its path is logged by the first test that saves one.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	first := false
	shotDirOnce.Do(func() {
		shotDir, shotDirErr = os.MkdirTemp("", "propsec-screenshots-")
		first = true
	})
	if shotDirErr != nil {
		t.Fatalf("browsertest: screenshot directory: %v", shotDirErr)
	}
	if first {
		t.Logf("screenshots in %s", shotDir)
	}
	return shotDir
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// save writes a PNG named after the test and name into ScreenshotDir.
func (p *Page) save(name string, data []byte) (string, error) {
	return saveShot(p.t, "", name, data)
}

var (
	shotsMu sync.Mutex
	shots   = map[string]int{}
)

// saveShot writes a screenshot of t's browser (kind "" for Chromium) into
// ScreenshotDir, numbered in the order t takes them, whatever its tabs.
func saveShot(t testing.TB, kind, name string, data []byte) (string, error) {
	shotsMu.Lock()
	shots[t.Name()]++
	n := shots[t.Name()]
	shotsMu.Unlock()
	file := fmt.Sprintf("%s%s-%02d-%s.png", unsafeName.ReplaceAllString(t.Name(), "_"), kind, n,
		unsafeName.ReplaceAllString(name, "_"))
	path := filepath.Join(ScreenshotDir(t), file)
	return path, os.WriteFile(path, data, 0o644)
}

// Screenshot saves a full-page PNG of the tab into ScreenshotDir and
// returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	data := p.ScreenshotPNG(1)
	path, err := p.save(name, data)
	if err != nil {
		p.t.Fatalf("browsertest: saving a screenshot: %v", err)
	}
	return path
}

// ScreenshotPNG captures the whole page as a PNG at scale (0.625 turns a
// 1280-pixel-wide window into an 800-pixel-wide image).
func (p *Page) ScreenshotPNG(scale float64) []byte {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	data, err := fullPage(ctx, scale)
	if err != nil {
		p.Fatalf("screenshot: %v", err)
	}
	return data
}

// ScreenshotTop captures at most height CSS pixels from the top of the
// page, at scale, as a PNG: the part a README shows.
func (p *Page) ScreenshotTop(scale float64, height int) []byte {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	data, err := capture(ctx, scale, float64(height))
	if err != nil {
		p.Fatalf("screenshot: %v", err)
	}
	return data
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return quote(s, func(r rune) bool { return r < 0x20 || r == 0x2028 || r == 0x2029 }, `\u%04x`)
}

// cssString quotes s as a CSS string.
func cssString(s string) string {
	return quote(s, func(r rune) bool { return r < 0x20 }, `\%x `)
}

// quote puts s between double quotes, with a backslash before a double
// quote or backslash, and the runes for which ctl is true written with
// escape (a format of the rune).
func quote(s string, ctl func(rune) bool, escape string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case ctl(r):
			fmt.Fprintf(&b, escape, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// xpathString quotes s as an XPath 1.0 string literal.
func xpathString(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	parts := strings.Split(s, "'")
	for i, part := range parts {
		parts[i] = "'" + part + "'"
	}
	return "concat(" + strings.Join(parts, `, "'", `) + ")"
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
