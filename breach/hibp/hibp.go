// Package hibp is a client for the Pwned Passwords range API of Have I Been
// Pwned (https://haveibeenpwned.com/API/v3#PwnedPasswords): a
// [breach.Source] that sends only a hash's 5-digit prefix upstream.
//
// It lives apart from package breach so that breach itself stays free of
// net/http: the client is an adapter around it.
//
// # Requests
//
// A range query is GET {BaseURL}/range/{PREFIX} (with ?mode=ntlm in NTLM
// mode), sent with "Add-Padding: true", so every answer is 800 to 1,000
// rows long whatever the prefix and its size says nothing, and with a
// User-Agent naming propsec and its version. The padding rows (count 0) are
// dropped. Concurrent queries for one prefix share one request. There are
// no retries: put a [breach.Cache] in front, and let callers retry.
//
// # Failures
//
// Every failure is a [*breach.SourceError], which matches
// [breach.ErrSourceUnavailable] and security.ErrUnavailable: a refused
// connection, a connect or total timeout, any status but 200 (with
// Retry-After for 429 and 503), a body over [Config.MaxResponseBytes], a
// truncated body, and a body that is not strictly "SUFFIX:COUNT" lines
// (see [breach.ParseRange]). None of them ever reads as "not breached".
package hibp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/security"
)

// Defaults.
const (
	DefaultBaseURL          = "https://api.pwnedpasswords.com"
	DefaultConnectTimeout   = 5 * time.Second
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20 // a padded range is about 40 KiB
)

// Config configures a [Client]. The zero value is ready: HIBP itself, SHA-1,
// the default timeouts and cap.
type Config struct {
	// BaseURL is the API's address, without "/range"; default
	// [DefaultBaseURL]. Point it at a mirror or at a test server.
	BaseURL string
	// NTLM asks for NT hashes (?mode=ntlm) instead of SHA-1.
	NTLM bool
	// UserAgent replaces the default User-Agent,
	// "propsec/VERSION (+https://github.com/propops/propsec; breach/hibp)".
	UserAgent string
	// ConnectTimeout bounds connecting, including the TLS handshake;
	// default [DefaultConnectTimeout]. Ignored when Transport is set.
	ConnectTimeout time.Duration
	// Timeout bounds a whole request, from connecting to the last byte of
	// the body; default [DefaultTimeout].
	Timeout time.Duration
	// MaxResponseBytes caps a response body (after decompression); a
	// longer one is an error. Default [DefaultMaxResponseBytes].
	MaxResponseBytes int64
	// Transport, when set, sends the requests (a proxy, a test transport).
	// By default the client has its own, with the connect timeout and the
	// proxy from the environment.
	Transport http.RoundTripper
	// Clock reads Retry-After dates; nil is the system clock.
	Clock security.Clock
}

// Client is a [breach.Source] backed by the HIBP range API. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	kind  breach.HashKind
	base  string
	ua    string
	http  *http.Client
	group singleflight.Group
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("hibp: BaseURL %q is not an http(s) URL without query", cfg.BaseURL)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	c := &Client{cfg: cfg, kind: breach.SHA1, base: strings.TrimRight(u.String(), "/"), ua: cfg.UserAgent}
	if cfg.NTLM {
		c.kind = breach.NTLM
	}
	if c.ua == "" {
		c.ua = "propsec/" + version() + " (+https://github.com/propops/propsec; breach/hibp)"
	}
	tr := cfg.Transport
	if tr == nil {
		d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   cfg.ConnectTimeout,
			ResponseHeaderTimeout: cfg.Timeout,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	c.http = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	return c, nil
}

// version is propsec's module version as built into the binary.
func version() string {
	const mod = "github.com/propops/propsec"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if bi.Main.Path == mod {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == mod {
			v = d.Version
			if d.Replace != nil && d.Replace.Version != "" {
				v = d.Replace.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}

// UserAgent returns the User-Agent the client sends.
func (c *Client) UserAgent() string { return c.ua }

// Kind returns [breach.SHA1], or [breach.NTLM] in NTLM mode.
func (c *Client) Kind() breach.HashKind { return c.kind }

// testHookJoined, when set by a test, runs once the caller has started or
// joined the shared request for its prefix.
var testHookJoined func()

// Range fetches the range for prefix (5 hex digits, either case).
// Concurrent calls for one prefix share one request; a caller whose ctx
// ends stops waiting for it, and the request goes on for the others, within
// [Config.Timeout].
func (c *Client) Range(ctx context.Context, prefix string) (*breach.Range, error) {
	p, err := breach.ParsePrefix(prefix)
	if err != nil {
		return nil, err
	}
	ch := c.group.DoChan(p, func() (any, error) { return c.fetch(context.WithoutCancel(ctx), p) })
	if testHookJoined != nil {
		testHookJoined()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*breach.Range), nil
	case <-ctx.Done():
		return nil, &breach.SourceError{Source: "hibp", Err: ctx.Err()}
	}
}

func (c *Client) fetch(ctx context.Context, p string) (*breach.Range, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := c.base + "/range/" + p
	if c.cfg.NTLM {
		u += "?mode=ntlm"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &breach.SourceError{Source: "hibp", Err: err}
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "text/plain")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &breach.SourceError{Source: "hibp", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.CopyN(io.Discard, resp.Body, 4096) // let the connection be reused
		e := &breach.SourceError{Source: "hibp", Status: resp.StatusCode,
			Err: errors.New(strings.ToLower(http.StatusText(resp.StatusCode)))}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), security.Now(c.cfg.Clock))
		}
		return nil, e
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, &breach.SourceError{Source: "hibp", Err: fmt.Errorf("reading the response: %w", err)}
	}
	if int64(len(body)) > c.cfg.MaxResponseBytes {
		return nil, &breach.SourceError{Source: "hibp",
			Err: fmt.Errorf("response longer than %d bytes", c.cfg.MaxResponseBytes)}
	}
	r, err := breach.ParseRange(c.kind, p, body)
	if err != nil {
		return nil, &breach.SourceError{Source: "hibp", Err: fmt.Errorf("malformed range %s: %w", p, err)}
	}
	return r, nil
}

// retryAfter reads a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
