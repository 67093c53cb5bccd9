package session_test

import (
	"net/netip"
	"testing"

	"github.com/propops/propsec/session"
	"github.com/stretchr/testify/require"
)

// locatorTable overlaps on purpose: 203.0.113.0/24 holds a /28 and a /32,
// 2001:db8::/32 holds a /48, and one entry covers private 10.0.0.0/8. It is
// listed least specific first, so a lookup that took the first match would
// get the wrong names.
var locatorTable = []session.NamedPrefix{
	{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Name: "Earth"},
	{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Name: "London, GB"},
	{Prefix: netip.MustParsePrefix("203.0.113.16/28"), Name: "Croydon, GB"},
	{Prefix: netip.MustParsePrefix("203.0.113.20/32"), Name: "Croydon office"},
	{Prefix: netip.MustParsePrefix("2001:db8::/32"), Name: "Paris, FR"},
	{Prefix: netip.MustParsePrefix("2001:db8:aa::/48"), Name: "Lyon, FR"},
	{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Name: "Corporate VPN"},
	// Not masked: NewNetworkLocator masks it, and Contains ignores the
	// host bits of a literal table too.
	{Prefix: netip.MustParsePrefix("198.51.100.77/24"), Name: "Berlin, DE"},
}

// TestNetworkLocator checks the CIDR-table locator: the most specific
// matching prefix wins whatever the table order; loopback, private and
// link-local addresses are "Local network" even when the table names their
// range; an address the table does not cover (or the zero Addr) is "". It
// runs both on the table as given (NetworkLocator{Table: ...}, unsorted) and
// on the one NewNetworkLocator sorts.
func TestNetworkLocator(t *testing.T) {
	cases := []struct {
		ip, want string
	}{
		{"203.0.113.10", "London, GB"},
		{"203.0.113.17", "Croydon, GB"},
		{"203.0.113.20", "Croydon office"},
		{"203.0.113.31", "Croydon, GB"},
		{"203.0.113.32", "London, GB"},
		{"192.0.2.1", "Earth"},
		{"198.51.100.1", "Berlin, DE"},
		{"::ffff:203.0.113.20", "Croydon office"}, // IPv4-mapped is looked up as IPv4
		{"2001:db8:1::1", "Paris, FR"},
		{"2001:db8:aa:5::1", "Lyon, FR"},
		{"2001:db9::1", ""}, // outside every v6 entry; 0.0.0.0/0 covers only IPv4
		{"127.0.0.1", session.LocalNetworkName},
		{"::1", session.LocalNetworkName},
		{"10.1.2.3", session.LocalNetworkName}, // local wins over the table's "Corporate VPN"
		{"172.16.5.4", session.LocalNetworkName},
		{"192.168.0.9", session.LocalNetworkName},
		{"::ffff:192.168.0.9", session.LocalNetworkName},
		{"fd12:3456::1", session.LocalNetworkName},
		{"169.254.1.1", session.LocalNetworkName},
		{"fe80::1", session.LocalNetworkName},
	}
	for _, loc := range []struct {
		name string
		l    *session.NetworkLocator
	}{
		{"literal table", &session.NetworkLocator{Table: locatorTable}},
		{"NewNetworkLocator", session.NewNetworkLocator(locatorTable)},
	} {
		t.Run(loc.name, func(t *testing.T) {
			for _, c := range cases {
				require.Equal(t, c.want, loc.l.Locate(netip.MustParseAddr(c.ip)), "Locate(%s)", c.ip)
			}
			require.Equal(t, "", loc.l.Locate(netip.Addr{}), "the zero Addr is unknown")
		})
	}

	t.Run("empty table", func(t *testing.T) {
		var l session.NetworkLocator
		require.Equal(t, "", l.Locate(netip.MustParseAddr("203.0.113.10")), "unknown without a table")
		require.Equal(t, session.LocalNetworkName, l.Locate(netip.MustParseAddr("127.0.0.1")))
		require.Equal(t, session.LocalNetworkName, l.Locate(netip.MustParseAddr("10.0.0.1")))
	})

	t.Run("NewNetworkLocator copies", func(t *testing.T) {
		table := []session.NamedPrefix{{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Name: "London, GB"}}
		l := session.NewNetworkLocator(table)
		table[0].Name = "changed"
		require.Equal(t, "London, GB", l.Locate(netip.MustParseAddr("203.0.113.1")),
			"the caller's slice is not the locator's")
	})
}

// TestLoginUsesLocator checks that a login stores the configured locator's
// name for the client IP in Session.Location.
func TestLoginUsesLocator(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.Locator = session.NewNetworkLocator(locatorTable) })
	res := f.login("ada@example.com", session.KindWeb, netip.MustParseAddr("203.0.113.20"))
	require.Equal(t, "Croydon office", res.Session.Location)
	stored, err := f.store.SessionByID(f.ctx, res.Session.ID)
	require.NoError(t, err)
	require.Equal(t, "Croydon office", stored.Location)
}

// TestLocators checks the chain: the first locator with an answer wins,
// later ones are asked only when earlier ones know nothing.
func TestLocators(t *testing.T) {
	table := session.NewNetworkLocator([]session.NamedPrefix{{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Name: "London, GB"}})
	wide := session.NewNetworkLocator([]session.NamedPrefix{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Name: "Earth"}})
	for _, tc := range []struct {
		name  string
		chain session.Locators
		ip    string
		want  string
	}{
		{"empty chain", nil, "203.0.113.1", ""},
		{"first answers", session.Locators{table, wide}, "203.0.113.1", "London, GB"},
		{"second answers", session.Locators{table, wide}, "198.51.100.1", "Earth"},
		{"local first", session.Locators{&session.NetworkLocator{}, wide}, "10.1.2.3", session.LocalNetworkName},
		{"nobody knows", session.Locators{&session.NetworkLocator{}, table}, "198.51.100.1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.chain.Locate(netip.MustParseAddr(tc.ip)))
		})
	}
}
