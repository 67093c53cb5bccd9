package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxResponseBytes bounds how much of a response body the client reads.
const MaxResponseBytes = 16 << 20

// Client calls the API of one server. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	hc       *http.Client
	reusable bool

	mu     sync.Mutex
	bearer string
	csrf   string // the reusable token, once fetched
}

// Option configures [New].
type Option func(*Client)

// WithHTTPClient sends requests through hc instead of an http.Client of
// New's own (which has a cookie jar and a 30 s timeout). Give hc a Jar to
// use cookie sessions.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBearer authenticates every request with the bearer token.
func WithBearer(token string) Option { return func(c *Client) { c.bearer = token } }

// WithReusableCSRF fetches one CSRF token and reuses it for every
// state-changing call, for servers whose tokens are reusable
// (security.CSRFConfig.Reusable). See the package doc.
func WithReusableCSRF() Option { return func(c *Client) { c.reusable = true } }

// New returns a Client of the server at baseURL (scheme and host, and the
// path the host mounts the adapter under, if any).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q must be an absolute http or https URL", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, err
		}
		c.hc = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	}
	return c, nil
}

// SetBearer makes the client authenticate with token from now on ("" to
// stop).
func (c *Client) SetBearer(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bearer, c.csrf = token, ""
}

// Error is a refusal from the server: the status and the envelope's code
// and message.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the envelope's error code (invalid_request, csrf_invalid,
	// too_many_attempts, …).
	Code string
	// Message is the server's text for people.
	Message string
	// RetryAfter is when to try again, from the Retry-After header (429).
	RetryAfter time.Duration
	// CheckID names the running check of a 409 from RunIntegrityCheck.
	CheckID string
	// Host names the host of a 409 from FileDiff.
	Host string
	// AttemptsLeft is how many more codes a verification accepts, from a
	// 401 verification_failed (0: log in again).
	AttemptsLeft int
}

func (e *Error) Error() string {
	return fmt.Sprintf("propsec: %d %s: %s", e.Status, e.Code, e.Message)
}

// The error codes of the API.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeUnauthenticated         = "unauthenticated"
	CodeInvalidCredentials      = "invalid_credentials"
	CodeForbidden               = "forbidden"
	CodeCSRFInvalid             = "csrf_invalid"
	CodeCrossOrigin             = "cross_origin"
	CodeAccountBlacklisted      = "account_blacklisted"
	CodeNotFound                = "not_found"
	CodeMethodNotAllowed        = "method_not_allowed"
	CodeConflict                = "conflict"
	CodeBodyTooLarge            = "body_too_large"
	CodeUnsupportedMediaType    = "unsupported_media_type"
	CodeTooManyAttempts         = "too_many_attempts"
	CodeInternal                = "internal_error"
	CodeUnavailable             = "unavailable"
	CodeBreachSourceUnavailable = "breach_source_unavailable"
)

// IsCode reports whether err is an [*Error] with code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// envelope is every JSON answer.
type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
	Error   string          `json:"error"`
	Count   *int            `json:"count"`
	Total   *int            `json:"total"`
	Page    *int            `json:"page"`
}

// call describes one request.
type call struct {
	method, path string
	query        url.Values
	body         any  // marshalled as JSON when not nil
	csrf         bool // needs a CSRF token
	noAuth       bool // sends no bearer token
}

// do sends cl and decodes the envelope of a success into env; data, when
// not nil, receives env.Data.
func (c *Client) do(ctx context.Context, cl call, data any) (*envelope, error) {
	raw, _, err := c.send(ctx, cl, "application/json")
	if err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("propsec: %s %s: malformed answer: %w", cl.method, cl.path, err)
	}
	if data != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, data); err != nil {
			return nil, fmt.Errorf("propsec: %s %s: malformed data: %w", cl.method, cl.path, err)
		}
	}
	return &env, nil
}

// send sends cl (fetching a CSRF token first when it needs one) and
// returns the body of a 2xx answer, or the [*Error] of any other.
func (c *Client) send(ctx context.Context, cl call, accept string) ([]byte, http.Header, error) {
	for attempt := 0; ; attempt++ {
		token := ""
		if cl.csrf {
			var err error
			if token, err = c.csrfToken(ctx); err != nil {
				return nil, nil, err
			}
		}
		raw, hdr, err := c.roundTrip(ctx, cl, token, accept)
		if cl.csrf && c.reusable && attempt == 0 && IsCode(err, CodeCSRFInvalid) {
			c.mu.Lock()
			if c.csrf == token {
				c.csrf = ""
			}
			c.mu.Unlock()
			continue // a refused request changed nothing: retry once with a fresh token
		}
		return raw, hdr, err
	}
}

// csrfToken returns the token for the next state-changing call: a fresh
// one, or in reusable mode the one fetched before.
func (c *Client) csrfToken(ctx context.Context) (string, error) {
	if c.reusable {
		c.mu.Lock()
		t := c.csrf
		c.mu.Unlock()
		if t != "" {
			return t, nil
		}
	}
	t, err := c.CSRFToken(ctx)
	if err != nil {
		return "", err
	}
	if c.reusable {
		c.mu.Lock()
		c.csrf = t
		c.mu.Unlock()
	}
	return t, nil
}

func (c *Client) roundTrip(ctx context.Context, cl call, csrfToken, accept string) ([]byte, http.Header, error) {
	u := *c.base
	u.Path += cl.path
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrfToken != "" {
		req.Header.Set("X-CSRF-Token", csrfToken)
	}
	c.mu.Lock()
	bearer := c.bearer
	c.mu.Unlock()
	if bearer != "" && !cl.noAuth {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(raw) > MaxResponseBytes {
		return nil, nil, fmt.Errorf("propsec: %s %s: answer over %d bytes", cl.method, cl.path, MaxResponseBytes)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return raw, resp.Header, nil
	}
	return nil, nil, refusal(resp, raw)
}

// refusal makes the [*Error] of a non-2xx answer.
func refusal(resp *http.Response, raw []byte) error {
	e := &Error{Status: resp.StatusCode}
	var env struct {
		Message string `json:"message"`
		Error   string `json:"error"`
		Data    struct {
			CheckID      string `json:"check_id"`
			Host         string `json:"host"`
			AttemptsLeft int    `json:"attempts_left"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error != "" {
		e.Code, e.Message, e.CheckID, e.Host = env.Error, env.Message, env.Data.CheckID, env.Data.Host
		e.AttemptsLeft = env.Data.AttemptsLeft
	} else {
		e.Code, e.Message = "http_"+strconv.Itoa(resp.StatusCode), http.StatusText(resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
