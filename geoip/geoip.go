// Package geoip names where an IP address is from a MaxMind DB file
// (.mmdb): a GeoLite2 or GeoIP2 City or Country database, or DB-IP's Lite
// ones, which the operator downloads and keeps current. It implements
// [session.Locator], so that sessions show "London, GB".
//
// # Answers
//
// "City, CC" from the record's city.names.en and country.iso_code; "CC"
// when the record has no city (a Country database, or an address known
// only to its country); "" when the database has no record. Names are
// cleaned with [security.CleanText] and cut to [MaxNameBytes]: the file is
// data from outside.
//
// # Local addresses
//
// Databases hold no record for loopback or private ranges. Put a
// [session.NetworkLocator] first, which names them "Local network":
//
//	geo, err := geoip.Open("GeoLite2-City.mmdb")
//	…
//	defer geo.Close()
//	cfg.Locator = session.Locators{&session.NetworkLocator{}, geo}
//
// # Cost
//
// The file is memory-mapped; a lookup walks the search tree and decodes two
// strings, under 2 µs (see bench/README.md). A Locator is safe for
// concurrent use. To take a newer database, open a new Locator.
package geoip

import (
	"fmt"
	"net/netip"
	"unicode/utf8"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// MaxNameBytes is the longest answer a Locator gives.
const MaxNameBytes = 128

// Locator looks addresses up in a MaxMind DB file.
type Locator struct {
	db *maxminddb.Reader
}

var _ session.Locator = (*Locator)(nil)

// Open opens the MaxMind DB file at path. The caller must Close it. A file
// that is not a MaxMind DB, or one without IPv6 (which holds the IPv4
// space too), is an error.
func Open(path string) (*Locator, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	if db.Metadata.IPVersion != 6 && db.Metadata.IPVersion != 4 {
		db.Close()
		return nil, fmt.Errorf("geoip: %s: unsupported IP version %d", path, db.Metadata.IPVersion)
	}
	return &Locator{db: db}, nil
}

// DatabaseType is the file's own name for its kind, "GeoLite2-City" say,
// for a log line.
func (l *Locator) DatabaseType() string { return l.db.Metadata.DatabaseType }

// Close releases the file. Locate must not be called after Close.
func (l *Locator) Close() error { return l.db.Close() }

// The paths of the two names a lookup decodes; the reader skips the rest
// of the record without decoding it. Package variables, so that a lookup
// does not allocate them.
var (
	cityPath    = []any{"city", "names", "en"}
	countryPath = []any{"country", "iso_code"}
)

// Locate implements [session.Locator]: "City, CC", "CC", or "" when the
// database has no record for ip (or cannot be read there).
func (l *Locator) Locate(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap()
	if ip.Is6() && l.db.Metadata.IPVersion == 4 {
		return ""
	}
	res := l.db.Lookup(ip)
	if !res.Found() {
		return ""
	}
	var city, country string
	if res.DecodePath(&country, countryPath...) != nil || res.DecodePath(&city, cityPath...) != nil {
		return ""
	}
	return name(city, country)
}

func name(city, country string) string {
	var s string
	switch {
	case city != "" && country != "":
		s = city + ", " + country
	case country != "":
		s = country
	default:
		s = city
	}
	if len(s) <= MaxNameBytes && isClean(s) {
		return s // the usual case, without CleanText's copy
	}
	return security.CleanText(s, MaxNameBytes)
}

// isClean reports whether s is valid UTF-8 without any of the characters
// [security.CleanText] escapes.
func isClean(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
