// Package geoiptest writes small MaxMind DB files (.mmdb) for tests, laid
// out as GeoIP2 and GeoLite2 City databases are: "city" → "names" → "en"
// and "country" → "iso_code". It uses MaxMind's own writer,
// github.com/maxmind/mmdbwriter, so the files are what a real database
// looks like to a reader.
package geoiptest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Place is the record of one network. An empty City (or Country) leaves
// that map out of the record, as in a database that knows only the
// country; Extra adds the record's other fields a real City database has,
// so a reader must skip what it does not want.
type Place struct {
	City    string
	Country string
	Extra   bool
}

// Write writes a City database to path with one record per network.
// Networks may be IPv4 or IPv6; IPv4 ones are reachable both as IPv4 and
// IPv4-mapped IPv6 addresses.
func Write(path string, networks map[string]Place) error {
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 28,
		Description: map[string]string{"en": "propsec test database"}, Languages: []string{"en"},
		// Tests use the documentation ranges (RFC 5737, RFC 3849).
		IncludeReservedNetworks: true})
	if err != nil {
		return err
	}
	// Least specific first: inserting a network replaces whatever was
	// inserted inside it before.
	type entry struct {
		pr netip.Prefix
		p  Place
	}
	entries := make([]entry, 0, len(networks))
	for cidr, p := range networks {
		pr, err := netip.ParsePrefix(cidr)
		if err != nil {
			return err
		}
		entries = append(entries, entry{pr.Masked(), p})
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.pr.Bits() - b.pr.Bits() })
	for _, e := range entries {
		n := &net.IPNet{IP: e.pr.Addr().AsSlice(), Mask: net.CIDRMask(e.pr.Bits(), e.pr.Addr().BitLen())}
		if err := w.Insert(n, record(e.p)); err != nil {
			return fmt.Errorf("%s: %w", e.pr, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func record(p Place) mmdbtype.Map {
	names := func(en string) mmdbtype.Map {
		m := mmdbtype.Map{"en": mmdbtype.String(en)}
		if p.Extra {
			m["de"], m["ja"] = mmdbtype.String(en+" (de)"), mmdbtype.String(en+" (ja)")
		}
		return m
	}
	r := mmdbtype.Map{}
	if p.City != "" {
		r["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2643743), "names": names(p.City)}
	}
	if p.Country != "" {
		r["country"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2635167), "iso_code": mmdbtype.String(p.Country),
			"names": names("Country " + p.Country)}
	}
	if p.Extra {
		r["continent"] = mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe")}
		r["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(51.5), "longitude": mmdbtype.Float64(-0.12),
			"accuracy_radius": mmdbtype.Uint16(100), "time_zone": mmdbtype.String("Europe/London")}
		r["postal"] = mmdbtype.Map{"code": mmdbtype.String("EC1A")}
		r["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG"), "names": names("England")}}
	}
	return r
}
