package browsertest

import "net/http"

// Transport is an [http.RoundTripper] for tests that post forms without a
// browser: it adds the headers every current browser sends, unless the
// request set them: Accept asking for HTML, User-Agent, Sec-Fetch-Site
// same-origin, and Origin on a POST. A header the request set to "" is
// removed, to act as a browser that does not send it.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Origin is sent with POSTs, such as an httptest server's URL.
	Origin string
	// UserAgent is the User-Agent sent; "" means a fixed desktop one.
	UserAgent string
}

// RoundTrip implements [http.RoundTripper].
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	ua := t.UserAgent
	if ua == "" {
		ua = "Mozilla/5.0 (X11; Linux x86_64) propsec-test"
	}
	defaults := map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "User-Agent": ua,
		"Sec-Fetch-Site": "same-origin"}
	if r.Method == http.MethodPost {
		defaults["Origin"] = t.Origin
	}
	for k, v := range defaults {
		if _, ok := r.Header[k]; !ok {
			r.Header.Set(k, v)
		}
	}
	for k, v := range r.Header {
		if len(v) == 1 && v[0] == "" {
			delete(r.Header, k)
		}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
