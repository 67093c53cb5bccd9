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

// fuzzTrusted are the trusted-proxy sets FuzzClientIP picks from: none, two
// private ranges, every address, loopback only.
var fuzzTrusted = [][]netip.Prefix{
	nil,
	{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")},
	{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
	{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
}

// tokenAddr reads one RemoteAddr or X-Forwarded-For entry the way a client
// IP may be written: "host:port", "[v6]:port" or a bare address, with an
// optional zone; IPv4-mapped addresses count as IPv4.
func tokenAddr(tok string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(tok); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(tok); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// FuzzClientIP checks ClientIP on any RemoteAddr, X-Forwarded-For headers
// (one per line of xff) and trusted set: it never panics; the result is
// the zero Addr exactly when RemoteAddr is not an address, and otherwise an
// address without zone or IPv4 mapping that was written in RemoteAddr or in
// an X-Forwarded-For entry; a forwarded address is used only when the peer
// (RemoteAddr) is a trusted proxy, and only one that has nothing but valid,
// trusted entries to its right (the hops our proxies wrote).
func FuzzClientIP(f *testing.F) {
	for _, c := range []struct {
		remote, xff string
		trusted     uint8
	}{
		{"198.51.100.7:4000", "", 1},
		{"198.51.100.7:4000", "203.0.113.1", 1},
		{"10.0.0.2:4000", "203.0.113.1", 1},
		{"10.0.0.2:4000", "192.0.2.66, 203.0.113.1, 10.9.9.9", 1},
		{"10.0.0.2:4000", "192.0.2.66\n203.0.113.1, 10.1.1.1\n10.2.2.2", 1},
		{"10.0.0.2:4000", "10.3.3.3, 10.4.4.4", 1},
		{"10.0.0.2:4000", "203.0.113.1, nonsense, 10.4.4.4", 1},
		{"10.0.0.2:4000", "203.0.113.1,,", 1},
		{"10.0.0.2:4000", "[2001:db8:2::1]:5555", 1},
		{"[2001:db8:1::5]:443", "2001:db8:2::1", 1},
		{"[::ffff:10.0.0.2]:4000", "::ffff:203.0.113.1", 1},
		{"[fe80::1%eth0]:4000", "fe80::2%eth1", 2},
		{"nonsense", "203.0.113.1", 2},
		{"127.0.0.1:1", "203.0.113.1, 127.0.0.1", 3},
		{"127.0.0.1:1", "203.0.113.1", 0},
		{"", "", 0},
	} {
		f.Add(c.remote, c.xff, c.trusted)
	}
	f.Fuzz(func(t *testing.T, remote, xff string, sel uint8) {
		trusted := fuzzTrusted[int(sel)%len(fuzzTrusted)]
		trustedAddr := func(a netip.Addr) bool {
			for _, p := range trusted {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var entries []string // every X-Forwarded-For entry, left to right
		if xff != "" {
			for _, h := range strings.Split(xff, "\n") {
				r.Header.Add("X-Forwarded-For", h)
				for _, e := range strings.Split(h, ",") {
					entries = append(entries, strings.TrimSpace(e))
				}
			}
		}
		got := ClientIP(r, trusted)

		peer, peerOK := tokenAddr(remote)
		if got.IsValid() != peerOK {
			t.Fatalf("RemoteAddr %q (address: %v) gave %v", remote, peerOK, got)
		}
		if !got.IsValid() {
			return
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("result %v keeps a zone or an IPv4 mapping", got)
		}
		if got == peer {
			return
		}
		if !trustedAddr(peer) {
			t.Fatalf("peer %v is not trusted, but the client is %v from X-Forwarded-For %q", peer, got, xff)
		}
		for i, e := range entries {
			if a, ok := tokenAddr(e); !ok || a != got {
				continue
			}
			right := true // every entry right of i is a trusted address
			for _, later := range entries[i+1:] {
				if a, ok := tokenAddr(later); !ok || !trustedAddr(a) {
					right = false
					break
				}
			}
			if right {
				return
			}
		}
		t.Fatalf("client %v is no X-Forwarded-For entry with only trusted hops to its right: %q", got, entries)
	})
}
