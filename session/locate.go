package session

import (
	"net/netip"
	"slices"
)

// Locator names where an IP address is, for display ("London, GB"). It
// returns "" when it does not know.
type Locator interface {
	Locate(ip netip.Addr) string
}

// LocalNetworkName is what [NetworkLocator] calls private and loopback
// addresses.
const LocalNetworkName = "Local network"

// NetworkLocator names loopback, private (RFC 1918, RFC 4193) and link-local
// addresses [LocalNetworkName], and looks every other address up in Table,
// where the most specific matching prefix wins. The zero value knows only the
// local ranges.
type NetworkLocator struct {
	Table []NamedPrefix
}

// NamedPrefix names one address range.
type NamedPrefix struct {
	Prefix netip.Prefix
	Name   string
}

// NewNetworkLocator returns a locator over table, sorted for lookup.
func NewNetworkLocator(table []NamedPrefix) *NetworkLocator {
	t := slices.Clone(table)
	for i := range t {
		t[i].Prefix = t[i].Prefix.Masked()
	}
	// Most specific first, so the first match wins.
	slices.SortStableFunc(t, func(a, b NamedPrefix) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	return &NetworkLocator{Table: t}
}

// Locate implements [Locator].
func (l *NetworkLocator) Locate(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
		return LocalNetworkName
	}
	best, bestBits := "", -1
	for _, np := range l.Table {
		if np.Prefix.Bits() > bestBits && np.Prefix.Contains(ip) {
			best, bestBits = np.Name, np.Prefix.Bits()
		}
	}
	return best
}

// Locators asks each locator in turn and returns the first non-empty
// answer: Locators{&NetworkLocator{}, geo} names local addresses "Local
// network" and asks geo (a GeoIP database, say) about the rest.
type Locators []Locator

// Locate implements [Locator].
func (ls Locators) Locate(ip netip.Addr) string {
	for _, l := range ls {
		if s := l.Locate(ip); s != "" {
			return s
		}
	}
	return ""
}
