package httpadapter

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/propops/propsec/security"
)

const sampleToken = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2"

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"Bearer " + sampleToken,
		"bearer " + sampleToken,
		"BEARER " + sampleToken,
		"Bearer  " + sampleToken,
		"Bearer " + sampleToken + " ",
		" Bearer " + sampleToken,
		"Bearer\t" + sampleToken,
		"Bearer " + strings.ToUpper(sampleToken),
		"Bearer " + sampleToken[:63],
		"Bearer " + sampleToken + "0",
		"Basic dXNlcjpwYXNz",
		"Bearer",
		"Bearer ",
		"",
		"Bearer " + sampleToken[:62] + "\u00e9",
		"Bearer=" + sampleToken,
		"Token " + sampleToken,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, err := parseAuthorization([]string{header})
		if _, err2 := parseAuthorization([]string{header, header}); err2 == nil {
			t.Fatalf("accepted two Authorization headers %q", header)
		}
		if _, err3 := parseAuthorization(nil); err3 == nil {
			t.Fatal("accepted no header")
		}
		if err != nil {
			if token != "" {
				t.Fatalf("%q: refused but returned a token", header)
			}
			return
		}
		if !security.ValidTokenFormat(token) {
			t.Fatalf("%q: accepted a token of the wrong shape %q", header, token)
		}
		if len(header) != len("Bearer ")+len(token) || !strings.EqualFold(header[:6], "bearer") || header[6] != ' ' ||
			header[7:] != token {
			t.Fatalf("%q: accepted, token %q", header, token)
		}
	})
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	for _, c := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "198.51.100.7:4000", nil, "198.51.100.7"},
		{"direct ignores XFF", "198.51.100.7:4000", []string{"203.0.113.1"}, "198.51.100.7"},
		{"trusted, no XFF", "10.0.0.2:4000", nil, "10.0.0.2"},
		{"trusted proxy", "10.0.0.2:4000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"rightmost untrusted", "10.0.0.2:4000", []string{"192.0.2.66, 203.0.113.1, 10.9.9.9"}, "203.0.113.1"},
		{"several headers", "10.0.0.2:4000", []string{"192.0.2.66", "203.0.113.1, 10.1.1.1", "10.2.2.2"}, "203.0.113.1"},
		{"all trusted", "10.0.0.2:4000", []string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},
		{"garbage stops the walk", "10.0.0.2:4000", []string{"203.0.113.1, nonsense, 10.4.4.4"}, "10.4.4.4"},
		{"empty entry", "10.0.0.2:4000", []string{"203.0.113.1,,"}, "10.0.0.2"},
		{"port in XFF", "10.0.0.2:4000", []string{"203.0.113.1:5555"}, "203.0.113.1"},
		{"v6 with port in XFF", "10.0.0.2:4000", []string{"[2001:db8:2::1]:5555"}, "2001:db8:2::1"},
		{"v6 proxy", "[2001:db8:1::5]:443", []string{"2001:db8:2::1"}, "2001:db8:2::1"},
		{"mapped peer", "[::ffff:10.0.0.2]:4000", []string{"::ffff:203.0.113.1"}, "203.0.113.1"},
		{"zone dropped", "[fe80::1%eth0]:4000", nil, "fe80::1"},
		{"bad remote", "nonsense", []string{"203.0.113.1"}, "invalid IP"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{"X-Forwarded-For": c.xff}}
			if got := ClientIP(r, trusted).String(); got != c.want {
				t.Fatalf("ClientIP = %s, want %s", got, c.want)
			}
		})
	}
}
