package geoip_test

import (
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/propops/propsec/geoip"
	"github.com/propops/propsec/internal/geoiptest"
	"github.com/propops/propsec/session"
)

func Example() {
	// A real deployment opens GeoLite2-City.mmdb or dbip-city-lite.mmdb;
	// this example writes a small database of its own.
	dir, _ := os.MkdirTemp("", "geoip")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "city.mmdb")
	if err := geoiptest.Write(path, map[string]geoiptest.Place{
		"81.2.69.0/24":   {City: "London", Country: "GB"},
		"89.160.20.0/24": {Country: "SE"},
	}); err != nil {
		log.Fatal(err)
	}

	geo, err := geoip.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer geo.Close()
	// Local ranges first: databases have no record for them.
	locator := session.Locators{&session.NetworkLocator{}, geo}
	for _, ip := range []string{"81.2.69.142", "89.160.20.112", "192.168.1.20", "8.8.8.8"} {
		fmt.Printf("%s: %q\n", ip, locator.Locate(netip.MustParseAddr(ip)))
	}
	// Output:
	// 81.2.69.142: "London, GB"
	// 89.160.20.112: "SE"
	// 192.168.1.20: "Local network"
	// 8.8.8.8: ""
}
