// Package passkey registers passkeys (WebAuthn credentials) and verifies
// their assertions, on github.com/go-webauthn/webauthn, for use as a second
// factor after a password.
//
// It sits beside package session rather than in it, so that the domain
// package stays free of go-webauthn (which imports net/http): an adapter
// such as httpadapter asks [Service.HasPasskey] whether "passkey" is one of
// a user's verification methods, runs the ceremony, and completes the
// pending verification when [Service.FinishAssertion] succeeds.
//
// # Relying party
//
// [Config] needs the relying party id (RPID: the site's domain), a display
// name and the exact origins pages run from; [New] refuses what a browser
// would refuse later, with an error saying why: an IP address as RPID, an
// origin whose host is not RPID or a subdomain of it, http anywhere but on
// localhost. In development serve on http://localhost:PORT with RPID
// "localhost": browsers allow WebAuthn on http only there, and never on
// http://127.0.0.1, whose host is not a domain.
//
// # Ceremonies
//
// A ceremony (registration or assertion) is begun by the server, which
// stores its state — go-webauthn's SessionData: the challenge, the allowed
// credentials, the user verification asked — under a random id ("pkc_…")
// with an expiry (Config.CeremonyTimeout, 5 minutes), bound to what it is
// for (the session that registers; the verification an assertion
// completes), to the user, and to the client's IP and user agent. The
// client holds only the id; nothing it sends back is trusted as state.
// Finishing takes the ceremony out of the store first ([Store.TakeCeremony]:
// of concurrent finishes exactly one gets it), so a ceremony is used once
// whatever the outcome, and a replayed response fails for want of its
// challenge.
//
// # Sign counters
//
// Authenticators that count report a signature counter that grows with
// every assertion. When an assertion's counter is not greater than the
// stored one (unless both are zero: synced passkeys always say 0), the
// credential may have been copied: [Store.UseCredential] sets its
// CloneWarning and refuses ([ErrCloned]), an [EventCloneWarning] is
// recorded, and from then on the credential is refused until the user
// removes it and registers a new one. go-webauthn only reports the
// warning; this package refuses, as WebAuthn §6.1.1 leaves to the relying
// party, because a second factor that may be cloned proves nothing.
//
// # Stored fields
//
// [Credential] keeps every field of the WebAuthn credential record: id,
// public key, attestation type and format with the raw attestation,
// transports, AAGUID, sign count, the UP, UV, BE and BS flags, the clone
// warning, the user's name for it, and when it was created and last used.
// Stores implement [Store]; memstore, sqlitestore and pgstore do, and pass
// the conformance suite in internal/storetest.
//
// # Limits
//
// A registration response may be [MaxRegistrationBytes] (64 KiB), an
// assertion [MaxAssertionBytes] (16 KiB), a credential id
// [MaxCredentialIDBytes], a name [MaxNameRunes] characters; a user may
// have Config.MaxPerUser passkeys (10).
package passkey
