package httpadapter

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestLocalPath(t *testing.T) {
	good := []string{"/", "/notes", "/notes?x=1&y=%2F%2F", "/notes#top", "/a/.b/c..", "/%7Euser", "/a%2Fb",
		"/" + strings.Repeat("a", maxLocalPath-1)}
	bad := []string{"", "notes", "./notes", "//evil.com", "///evil.com", "/\\evil.com", "\\\\evil.com", "/\\/evil.com",
		"https://evil.com", "https:/evil.com", "http:evil.com", "javascript:alert(1)", "JAVASCRIPT:alert(1)",
		"data:text/html,x", "/%2F%2Fevil.com", "/%2f%2fevil.com", "/%2F/evil.com", "/%5Cevil.com", "/%5cevil.com",
		"/%0d%0aSet-Cookie:%20x", "/%00", "/%7f", "/\tevil", "/\r\nx", "/\x00", "/ x", "/é", "/a\\b",
		"/" + strings.Repeat("a", maxLocalPath), "/%zz", "/.//evil.com", "/%2e//evil.com", "/a/../..//evil.com", "/."}
	for _, s := range good {
		if !localPath(s) {
			t.Errorf("localPath(%q) = false, want true", s)
		}
	}
	for _, s := range bad {
		if localPath(s) {
			t.Errorf("localPath(%q) = true, want false", s)
		}
	}
}

// Whatever localPath accepts stays on the origin it is resolved against,
// as a browser resolves a Location, even once percent-decoded.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/notes?x=1", "//evil.com", "/\\evil.com", "/%2F%2Fevil.com", "https://evil.com",
		"/%5Cevil", "/a#//b", "/.//"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/some/page")
	f.Fuzz(func(t *testing.T, s string) {
		if !localPath(s) {
			return
		}
		u, err := base.Parse(s)
		if err != nil || u.Host != "app.example" || u.Scheme != "https" || u.User != nil {
			t.Fatalf("%q resolves to %v (%v)", s, u, err)
		}
		dec, err := url.PathUnescape(u.EscapedPath())
		if err != nil || strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\r\n\x00") {
			t.Fatalf("%q decodes to %q (%v)", s, dec, err)
		}
	})
}

func TestWantsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": true,
		"TEXT/HTML":                           true,
		"application/json, text/html;q=0.1":   true,
		"text/html;q=0":                       false,
		"text/html;q=0.000, application/json": false,
		"text/html;q=abc":                     false,
		"*/*":                                 false,
		"text/*":                              false,
		"application/json":                    false,
		"":                                    false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := wantsHTML(r); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}
