package main

import (
	"github.com/propops/propsec/passkey"
)

// passkeys returns the passkey service of the -passkey-* flags, or nil
// without -passkey-rp-id. Its origins default to https://RPID.
func passkeys(o options, store passkey.Store) (*passkey.Service, error) {
	if o.passkeyRPID == "" {
		return nil, nil
	}
	origins := []string(o.passkeyOrigins)
	if len(origins) == 0 {
		origins = []string{"https://" + o.passkeyRPID}
	}
	return passkey.New(passkey.Config{RPID: o.passkeyRPID, RPDisplayName: o.passkeyRPName, RPOrigins: origins,
		Store: store})
}
