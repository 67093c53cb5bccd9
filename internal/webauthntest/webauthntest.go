// Package webauthntest is a software WebAuthn authenticator and client for
// tests: it answers the options of navigator.credentials.create and .get
// with the JSON a browser would post, signed with ES256 keys it keeps in
// memory, so that registration and assertion run without a browser.
//
// # What it builds
//
// "none" attestation objects with attested credential data (AAGUID zero,
// a 32-byte random credential id, an EC2 P-256 COSE key), and assertions
// whose authenticator data carry UP, UV (when UserVerified) and a counter
// that grows by one per assertion unless the test sets it.
package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator is a software authenticator with its client. Not safe for
// concurrent use.
type Authenticator struct {
	// Origin is the origin the client reports in client data.
	Origin string
	// UserVerified sets the UV flag.
	UserVerified bool
	// BackupEligible sets the BE and BS flags.
	BackupEligible bool
	creds          []*Key
}

// Key is one credential the authenticator holds.
type Key struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	// Counter is the last signature counter; the next assertion uses
	// Counter+1 (or 0 forever when ZeroCounter).
	Counter     uint32
	ZeroCounter bool
	priv        *ecdsa.PrivateKey
}

// New returns an authenticator whose client runs on origin.
func New(origin string) *Authenticator { return &Authenticator{Origin: origin, UserVerified: true} }

// Keys returns the credentials made so far, oldest first.
func (a *Authenticator) Keys() []*Key { return a.creds }

var b64 = base64.RawURLEncoding

type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Exclude []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		Allow     []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	cd, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return cd
}

func (a *Authenticator) flags() byte {
	f := byte(0x01) // UP
	if a.UserVerified {
		f |= 0x04
	}
	if a.BackupEligible {
		f |= 0x08 | 0x10
	}
	return f
}

// Create answers creation options (the JSON {"publicKey": {…}} of the
// server) with a registration response, and keeps the new key.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	for _, ex := range o.PublicKey.Exclude {
		for _, k := range a.creds {
			if ex.ID == b64.EncodeToString(k.ID) {
				return nil, errors.New("webauthntest: InvalidStateError: credential excluded")
			}
		}
	}
	user, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: user id: %w", err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &Key{ID: make([]byte, 32), RPID: o.PublicKey.RP.ID, UserHandle: user, priv: priv}
	rand.Read(k.ID)
	pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:]})
	if err != nil {
		return nil, err
	}
	var ad bytes.Buffer
	rp := sha256.Sum256([]byte(k.RPID))
	ad.Write(rp[:])
	ad.WriteByte(a.flags() | 0x40) // AT
	ad.Write(binary.BigEndian.AppendUint32(nil, 0))
	ad.Write(make([]byte, 16)) // AAGUID
	ad.Write(binary.BigEndian.AppendUint16(nil, uint16(len(k.ID))))
	ad.Write(k.ID)
	ad.Write(cose)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad.Bytes()})
	if err != nil {
		return nil, err
	}
	a.creds = append(a.creds, k)
	id := b64.EncodeToString(k.ID)
	return json.Marshal(map[string]any{"id": id, "rawId": id, "type": "public-key", "authenticatorAttachment": "platform",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(a.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(att), "transports": []string{"internal"}}})
}

// Get answers request options with an assertion by the first held key the
// options allow (any key of their RP id when they list none).
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	for _, k := range a.creds {
		if k.RPID != o.PublicKey.RPID {
			continue
		}
		if len(o.PublicKey.Allow) == 0 {
			return a.Sign(k, o.PublicKey.Challenge)
		}
		for _, al := range o.PublicKey.Allow {
			if al.ID == b64.EncodeToString(k.ID) {
				return a.Sign(k, o.PublicKey.Challenge)
			}
		}
	}
	return nil, errors.New("webauthntest: NotAllowedError: no credential")
}

// Sign makes k's assertion of challenge (base64url, as in the options),
// whatever the options allow.
func (a *Authenticator) Sign(k *Key, challenge string) ([]byte, error) {
	if !k.ZeroCounter {
		k.Counter++
	}
	var ad bytes.Buffer
	rp := sha256.Sum256([]byte(k.RPID))
	ad.Write(rp[:])
	ad.WriteByte(a.flags())
	ad.Write(binary.BigEndian.AppendUint32(nil, k.Counter))
	cd := a.clientData("webauthn.get", challenge)
	h := sha256.Sum256(cd)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sha256Sum(append(ad.Bytes(), h[:]...)))
	if err != nil {
		return nil, err
	}
	id := b64.EncodeToString(k.ID)
	return json.Marshal(map[string]any{"id": id, "rawId": id, "type": "public-key", "authenticatorAttachment": "platform",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad.Bytes()),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(k.UserHandle)}})
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
