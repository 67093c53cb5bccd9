package geoip_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/geoip"
	"github.com/propops/propsec/internal/geoiptest"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// testNetworks overlap on purpose: a /28 inside a /24, a /48 inside a /32.
var testNetworks = map[string]geoiptest.Place{
	"81.2.69.0/24":        {City: "London", Country: "GB", Extra: true},
	"81.2.69.160/28":      {City: "Croydon", Country: "GB"},
	"89.160.20.0/24":      {Country: "SE"},
	"2001:db8::/32":       {City: "Paris", Country: "FR", Extra: true},
	"2001:db8:aa::/48":    {City: "Lyon", Country: "FR"},
	"203.0.113.0/24":      {City: "Evil\nCity\x1b[31m", Country: "XX"},
	"198.51.100.0/24":     {City: strings.Repeat("Llanfair", 40), Country: "GB"},
	"192.0.2.0/24":        {City: "Nowhere"},
	"2001:db8:ff::/48":    {},
	"100.64.0.0/10":       {City: "Shared", Country: "ZZ"},
	"2a02:ff00::/32":      {City: "Zürich", Country: "CH"},
	"185.199.108.0/22":    {City: "San Francisco", Country: "US", Extra: true},
	"2606:50c0:8000::/48": {City: "San Francisco", Country: "US"},
}

func open(t testing.TB) *geoip.Locator {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test-city.mmdb")
	require.NoError(t, geoiptest.Write(path, testNetworks))
	l, err := geoip.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocate(t *testing.T) {
	l := open(t)
	require.Equal(t, "GeoLite2-City", l.DatabaseType())
	chain := session.Locators{&session.NetworkLocator{}, l}
	for _, tc := range []struct {
		ip, want, chained string
	}{
		{"81.2.69.142", "London, GB", ""},
		{"::ffff:81.2.69.142", "London, GB", ""},
		{"81.2.69.170", "Croydon, GB", ""},
		{"89.160.20.112", "SE", ""},
		{"2001:db8:1::1", "Paris, FR", ""},
		{"2001:db8:aa::1", "Lyon, FR", ""},
		{"2a02:ff00::1", "Zürich, CH", ""},
		{"203.0.113.9", `Evil\u000aCity\u001b[31m, XX`, ""},
		{"192.0.2.1", "Nowhere", ""},
		{"2001:db8:ff::1", "", ""},
		{"8.8.8.8", "", ""},
		{"2001:4860::1", "", ""},
		{"127.0.0.1", "", session.LocalNetworkName},
		{"10.1.2.3", "", session.LocalNetworkName},
		{"::1", "", session.LocalNetworkName},
		{"fd00::1", "", session.LocalNetworkName},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.ip)
			require.Equal(t, tc.want, l.Locate(ip))
			want := tc.want
			if tc.chained != "" {
				want = tc.chained
			}
			require.Equal(t, want, chain.Locate(ip), "behind a NetworkLocator")
		})
	}
	require.Empty(t, l.Locate(netip.Addr{}), "the zero Addr")
	long := l.Locate(netip.MustParseAddr("198.51.100.1"))
	require.LessOrEqual(t, len(long), geoip.MaxNameBytes)
	require.True(t, strings.HasPrefix(long, "LlanfairLlanfair"), long)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notMMDB := filepath.Join(dir, "not.mmdb")
	require.NoError(t, os.WriteFile(notMMDB, []byte(strings.Repeat("not a MaxMind database\n", 100)), 0o600))
	empty := filepath.Join(dir, "empty.mmdb")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	for name, path := range map[string]string{
		"missing":   filepath.Join(dir, "missing.mmdb"),
		"not mmdb":  notMMDB,
		"empty":     empty,
		"directory": dir,
	} {
		t.Run(name, func(t *testing.T) {
			l, err := geoip.Open(path)
			require.Error(t, err)
			require.Nil(t, l)
			require.True(t, strings.HasPrefix(err.Error(), "geoip: "), err.Error())
		})
	}
}

// Concurrent lookups share one reader (run with -race).
func TestLocateConcurrently(t *testing.T) {
	l := open(t)
	done := make(chan string)
	for range 8 {
		go func() {
			var last string
			for range 1000 {
				last = l.Locate(netip.MustParseAddr("81.2.69.142"))
			}
			done <- last
		}()
	}
	for range 8 {
		require.Equal(t, "London, GB", <-done)
	}
}

func BenchmarkLocate(b *testing.B) {
	l := open(b)
	for _, bc := range []struct{ name, ip string }{
		{"city-v4", "81.2.69.142"},
		{"city-v6", "2001:db8:1::1"},
		{"country-only", "89.160.20.112"},
		{"not-found", "8.8.8.8"},
	} {
		ip := netip.MustParseAddr(bc.ip)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Locate(ip)
			}
		})
	}
}

// The names of a record are cleaned as security.CleanText cleans them,
// whether or not they take the fast path.
func TestNamesCleaned(t *testing.T) {
	dir := t.TempDir()
	names := []string{"London", "São Paulo", "Zürich", "Tab\there", "Bell\a", "C1\u0085", "Line\u2028sep",
		"Bad\xffUTF-8", "Replacement\uFFFD", strings.Repeat("Ā", 70), strings.Repeat("a", 130)}
	networks := map[string]geoiptest.Place{}
	for i, n := range names {
		networks[fmt.Sprintf("81.2.%d.0/24", i)] = geoiptest.Place{City: n, Country: "GB"}
	}
	path := filepath.Join(dir, "names.mmdb")
	require.NoError(t, geoiptest.Write(path, networks))
	l, err := geoip.Open(path)
	require.NoError(t, err)
	defer l.Close()
	for i, n := range names {
		got := l.Locate(netip.MustParseAddr(fmt.Sprintf("81.2.%d.1", i)))
		require.Equal(t, security.CleanText(n+", GB", geoip.MaxNameBytes), got, "%q", n)
	}
}
