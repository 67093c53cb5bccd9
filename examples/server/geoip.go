package main

import (
	"log/slog"

	"github.com/propops/propsec/geoip"
	"github.com/propops/propsec/session"
)

// openLocator returns the locator of the sessions: local ranges named
// "Local network", and with -geoip every other address looked up in that
// MaxMind DB file. close releases the file.
func openLocator(path string, log *slog.Logger) (l session.Locator, close func(), err error) {
	local := &session.NetworkLocator{}
	if path == "" {
		return local, func() {}, nil
	}
	geo, err := geoip.Open(path)
	if err != nil {
		return nil, nil, err
	}
	log.Info("locating logins", "geoip", path, "type", geo.DatabaseType())
	return session.Locators{local, geo}, func() { geo.Close() }, nil
}
