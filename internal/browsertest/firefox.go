package browsertest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// EnvFirefox names the Firefox executable to use.
const EnvFirefox = "PROPSEC_FIREFOX"

// Firefox is a headless Firefox driven through WebDriver BiDi, the W3C
// protocol Firefox speaks natively (chromedp speaks only Chrome's). It is
// smaller than [Page]: navigate, evaluate, type, wait, screenshots, the
// URLs of requests and the page's console errors.
type Firefox struct {
	t       testing.TB
	conn    *websocket.Conn
	context string
	// Timeout bounds each step; zero means DefaultTimeout.
	Timeout time.Duration

	mu       sync.Mutex
	next     int
	pending  map[int]chan bidiMessage
	requests []string
	errs     []string
}

type bidiMessage struct {
	ID     int             `json:"id"`
	Type   string          `json:"type"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Msg    string          `json:"message"`
}

var firefoxCandidates = []string{"firefox-esr", "firefox"}

// FindFirefox returns the path of $PROPSEC_FIREFOX, or of firefox-esr or
// firefox on PATH.
func FindFirefox() (string, error) {
	return findExecutable("Firefox", EnvFirefox, firefoxCandidates, "firefox-esr")
}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// StartFirefox starts a headless Firefox in a throwaway profile for t,
// stopped when t ends, with one blank tab. It accepts the self-signed
// certificates of httptest.NewTLSServer. Without Firefox the test skips,
// or fails under PROPSEC_TEST_BROWSER_REQUIRED=1.
func StartFirefox(t testing.TB) *Firefox {
	t.Helper()
	exe, err := FindFirefox()
	if err != nil {
		unavailable(t, "%v", err)
	}
	profile := t.TempDir()
	// Nothing from the network that the test did not ask for.
	prefs := `user_pref("app.update.disabledForTesting", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("services.settings.server", "data:,");
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
`
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(prefs), 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, exe, "--headless", "--no-remote", "--profile", profile,
		"--remote-debugging-port", "0", "--remote-allow-origins", "http://127.0.0.1", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatalf("browsertest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("browsertest: starting %s: %v", exe, err)
	}
	f := &Firefox{t: t, pending: map[int]chan bidiMessage{}}
	t.Cleanup(func() {
		if f.conn != nil {
			f.call("browser.close", map[string]any{}, 5*time.Second)
			f.conn.Close()
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		cancel()
		<-done
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := bidiListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var ws string
	select {
	case ws = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("browsertest: %s did not start WebDriver BiDi within a minute", exe)
	}
	f.conn, err = websocket.Dial(ws+"/session", "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("browsertest: connecting to Firefox at %s: %v", ws, err)
	}
	f.conn.MaxPayloadBytes = 64 << 20
	go f.read()
	f.must("session.new", map[string]any{"capabilities": map[string]any{
		"alwaysMatch": map[string]any{"acceptInsecureCerts": true}}})
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	f.decode(f.must("browsingContext.getTree", map[string]any{}), &tree)
	if len(tree.Contexts) == 0 {
		t.Fatalf("browsertest: Firefox has no tab")
	}
	f.context = tree.Contexts[0].Context
	f.must("session.subscribe", map[string]any{"events": []string{"log.entryAdded", "network.beforeRequestSent"}})
	return f
}

// read receives the replies and events until the connection closes.
func (f *Firefox) read() {
	for {
		var raw []byte
		if err := websocket.Message.Receive(f.conn, &raw); err != nil {
			f.mu.Lock()
			for id, ch := range f.pending {
				ch <- bidiMessage{ID: id, Type: "error", Error: "connection closed", Msg: err.Error()}
				delete(f.pending, id)
			}
			f.mu.Unlock()
			return
		}
		var m bidiMessage
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		f.mu.Lock()
		switch {
		case m.Type == "event" && m.Method == "log.entryAdded":
			var e struct {
				Level string `json:"level"`
				Text  string `json:"text"`
			}
			if json.Unmarshal(m.Params, &e) == nil && e.Level == "error" {
				f.errs = append(f.errs, e.Text)
			}
		case m.Type == "event" && m.Method == "network.beforeRequestSent":
			var e struct {
				Request struct {
					URL    string `json:"url"`
					Method string `json:"method"`
				} `json:"request"`
			}
			if json.Unmarshal(m.Params, &e) == nil {
				f.requests = append(f.requests, e.Request.Method+" "+e.Request.URL)
			}
		case m.Type == "success" || m.Type == "error":
			if ch := f.pending[m.ID]; ch != nil {
				ch <- m
				delete(f.pending, m.ID)
			}
		}
		f.mu.Unlock()
	}
}

// call sends a command and waits for its reply.
func (f *Firefox) call(method string, params any, timeout time.Duration) (json.RawMessage, error) {
	f.mu.Lock()
	f.next++
	id := f.next
	ch := make(chan bidiMessage, 1)
	f.pending[id] = ch
	f.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := websocket.Message.Send(f.conn, string(msg)); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, m.Error, m.Msg)
		}
		return m.Result, nil
	case <-time.After(timeout):
		f.mu.Lock()
		delete(f.pending, id)
		f.mu.Unlock()
		return nil, fmt.Errorf("%s: no answer within %s", method, timeout)
	}
}

func (f *Firefox) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

func (f *Firefox) must(method string, params any) json.RawMessage {
	f.t.Helper()
	r, err := f.call(method, params, f.timeout())
	if err != nil {
		f.Fatalf("%v", err)
	}
	return r
}

func (f *Firefox) decode(raw json.RawMessage, v any) {
	f.t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		f.Fatalf("decoding %s: %v", raw, err)
	}
}

// Fatalf fails the test with the message, the page's URL and a screenshot.
func (f *Firefox) Fatalf(format string, args ...any) {
	f.t.Helper()
	msg := fmt.Sprintf(format, args...)
	url, shot := "(unknown)", "(none)"
	if v, err := f.eval(`location.href`, 5*time.Second); err == nil {
		url = string(v)
	}
	if data, err := f.screenshot(5 * time.Second); err == nil {
		if p, err := f.save("failure", data); err == nil {
			shot = p
		}
	}
	f.t.Fatalf("browsertest (Firefox): %s\n  page: %s\n  screenshot: %s", msg, url, shot)
}

// Navigate loads url and waits for it to be complete.
func (f *Firefox) Navigate(url string) {
	f.t.Helper()
	f.must("browsingContext.navigate", map[string]any{"context": f.context, "url": url, "wait": "complete"})
}

// eval evaluates expr (promises awaited) and returns its JSON.
func (f *Firefox) eval(expr string, timeout time.Duration) (json.RawMessage, error) {
	r, err := f.call("script.evaluate", map[string]any{
		"expression":   "(async () => JSON.stringify(await (" + expr + ")))()",
		"target":       map[string]any{"context": f.context},
		"awaitPromise": true, "resultOwnership": "none"}, timeout)
	if err != nil {
		return nil, err
	}
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"result"`
		Exception struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(r, &res); err != nil {
		return nil, err
	}
	if res.Type == "exception" {
		return nil, errors.New("exception: " + res.Exception.Text)
	}
	if res.Result.Type != "string" {
		return json.RawMessage("null"), nil
	}
	return json.RawMessage(res.Result.Value), nil
}

// FirefoxEval evaluates a JavaScript expression in f's page (promises
// awaited) and decodes its JSON value into T.
func FirefoxEval[T any](f *Firefox, expr string) T {
	f.t.Helper()
	var v T
	raw, err := f.eval(expr, f.timeout())
	if err != nil {
		f.Fatalf("evaluating %s: %v", abbrev(expr), err)
	}
	f.decode(raw, &v)
	return v
}

// WaitTrue waits until the expression is true; errors while the page
// navigates are retried until the step's timeout.
func (f *Firefox) WaitTrue(what, expr string) {
	f.t.Helper()
	deadline := time.Now().Add(f.timeout())
	var last error
	for time.Now().Before(deadline) {
		raw, err := f.eval("!!("+expr+")", 5*time.Second)
		if err == nil && string(raw) == "true" {
			return
		}
		if err != nil {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Fatalf("waiting for %s: timed out (last error: %v)", what, last)
}

// WaitText waits until an element matching the CSS selector has want in
// its text.
func (f *Firefox) WaitText(css, want string) {
	f.t.Helper()
	f.WaitTrue(fmt.Sprintf("%q in %s", want, css), fmt.Sprintf(
		`[...document.querySelectorAll(%s)].some(e => (e.innerText || e.textContent || '').includes(%s))`,
		jsString(css), jsString(want)))
}

// Click clicks the first element matching the CSS selector, or failing
// that the first link or button whose text is the selector.
func (f *Firefox) Click(cssOrText string) {
	f.t.Helper()
	f.WaitTrue("something to click: "+cssOrText, fmt.Sprintf(`(() => {
		let e = null;
		try { e = document.querySelector(%[1]s); } catch (_) {}
		e = e || [...document.querySelectorAll('a, button')].find(b => b.innerText.trim() === %[1]s);
		if (!e) return false;
		e.click();
		return true;
	})()`, jsString(cssOrText)))
}

// Type focuses the first element matching the CSS selector, empties it
// and types text with key events.
func (f *Firefox) Type(css, text string) {
	f.t.Helper()
	f.WaitTrue("a field "+css, fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		if (!e) return false;
		e.focus(); e.value = '';
		return true;
	})()`, jsString(css)))
	f.Keys(text)
}

// Keys sends key presses to the focused element: runes, or the WebDriver
// key codes ("\uE004" Tab, "\uE007" Enter).
func (f *Firefox) Keys(text string) {
	f.t.Helper()
	var acts []map[string]any
	for _, r := range text {
		acts = append(acts, map[string]any{"type": "keyDown", "value": string(r)}, map[string]any{"type": "keyUp", "value": string(r)})
	}
	f.must("input.performActions", map[string]any{"context": f.context,
		"actions": []map[string]any{{"type": "key", "id": "keyboard", "actions": acts}}})
}

// SetViewport resizes the page.
func (f *Firefox) SetViewport(v Viewport) {
	f.t.Helper()
	f.must("browsingContext.setViewport", map[string]any{"context": f.context,
		"viewport": map[string]any{"width": v.Width, "height": v.Height}})
}

func (f *Firefox) screenshot(timeout time.Duration) ([]byte, error) {
	r, err := f.call("browsingContext.captureScreenshot", map[string]any{"context": f.context, "origin": "document"}, timeout)
	if err != nil {
		return nil, err
	}
	var res struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(r, &res); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(res.Data)
}

func (f *Firefox) save(name string, data []byte) (string, error) {
	return saveShot(f.t, "-firefox", name, data)
}

// Screenshot saves a PNG of the whole page into ScreenshotDir.
func (f *Firefox) Screenshot(name string) string {
	f.t.Helper()
	data, err := f.screenshot(f.timeout())
	if err != nil {
		f.Fatalf("screenshot: %v", err)
	}
	path, err := f.save(name, data)
	if err != nil {
		f.t.Fatalf("browsertest: %v", err)
	}
	return path
}

// Requests are the method and URL of every request the page made so far.
func (f *Firefox) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// ConsoleErrors are the errors the page logged so far: uncaught
// exceptions and console.error calls.
func (f *Firefox) ConsoleErrors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

// Axe runs axe-core in the Firefox page as [Page.Axe] does.
func (f *Firefox) Axe() {
	f.t.Helper()
	src := axeSource(f.t)
	if string(f.mustEval(`typeof window.axe`)) != `"object"` {
		if _, err := f.call("script.evaluate", map[string]any{"expression": src + "\n;undefined",
			"target": map[string]any{"context": f.context}, "awaitPromise": false, "resultOwnership": "none"}, f.timeout()); err != nil {
			f.Fatalf("injecting axe-core: %v", err)
		}
	}
	var vs []AxeViolation
	f.decode(f.mustEval(axeRun), &vs)
	var bad []string
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v.String())
		}
	}
	if len(bad) > 0 {
		f.Fatalf("axe-core found %d serious or critical violation(s):\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
}

func (f *Firefox) mustEval(expr string) json.RawMessage {
	f.t.Helper()
	raw, err := f.eval(expr, f.timeout())
	if err != nil {
		f.Fatalf("evaluating %s: %v", abbrev(expr), err)
	}
	return raw
}
