package browsertest

import (
	"strings"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Localhost turns the URL of an httptest server (http or https on
// 127.0.0.1) into the same server's URL at localhost: WebAuthn takes a
// host name as the relying party ID, never an IP address. Chromium
// resolves localhost to 127.0.0.1 itself, treats http://localhost as a
// secure context, and, with the certificate errors this package's browser
// ignores, runs WebAuthn on https://localhost with httptest's certificate.
func Localhost(url string) string {
	return strings.Replace(url, "//127.0.0.1:", "//localhost:", 1)
}

// AddVirtualAuthenticator enables WebAuthn emulation on the tab and adds
// a virtual platform authenticator (CTAP 2, internal transport, resident
// keys, user verification that succeeds, presence given at once), as a
// phone's or laptop's passkey store. It returns the authenticator's id for
// the webauthn domain's other commands (through [Page.Context]).
func (p *Page) AddVirtualAuthenticator() webauthn.AuthenticatorID {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		p.Fatalf("enabling WebAuthn emulation: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		p.Fatalf("adding a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// Credentials are the credentials the virtual authenticator holds.
func (p *Page) Credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		p.Fatalf("reading the authenticator's credentials: %v", err)
	}
	return res.Credentials
}
