package security

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/zeebo/blake3"
)

// NonceStore remembers the CSRF nonces that have been used. Stores implement
// it, and document what a crash can make them forget (see CSRF in the
// package documentation): a forgotten nonce's token is accepted once more
// until it expires.
type NonceStore interface {
	// ConsumeNonce records hash as used until expires. It reports fresh=false,
	// without error, when hash was already recorded. Concurrent calls with one
	// hash must let exactly one of them see fresh=true.
	ConsumeNonce(ctx context.Context, hash [32]byte, expires time.Time) (fresh bool, err error)
}

// CSRFConfig configures [NewCSRF].
type CSRFConfig struct {
	// Key authenticates tokens. At least 32 bytes, secret, and the same on
	// every instance of the host. Required.
	Key []byte
	// Nonces records used tokens. Required unless Reusable is set.
	Nonces NonceStore
	// TTL is how long a token stays valid. Default: 1 hour, or 12 hours when
	// Reusable is set.
	TTL time.Duration
	// Reusable makes a token valid for any number of requests of its session
	// until it expires (the seed's "once at session start and reuse it"). By
	// default tokens are single-use, which is safer: a token that leaks from
	// one page cannot be replayed.
	Reusable bool
	// Clock tells the time; nil means the system clock.
	Clock Clock
}

// CSRF issues and checks CSRF tokens bound to one session. It is safe for
// concurrent use.
type CSRF struct {
	key [32]byte
	// macs pools keyed hashers: a fresh one costs more than the MAC.
	macs     sync.Pool
	nonces   NonceStore
	ttl      time.Duration
	reusable bool
	clock    Clock
}

const (
	csrfVersion  = 1
	csrfNonceLen = 16
	csrfMACLen   = 16
	// version, mode, expiry (unix seconds), nonce, MAC
	csrfRawLen = 1 + 1 + 8 + csrfNonceLen + csrfMACLen
	// CSRFTokenLen is the length of a CSRF token's text: lowercase hex.
	CSRFTokenLen = 2 * csrfRawLen
	modeSingle   = 's'
	modeReusable = 'r'
)

// NewCSRF returns a CSRF issuer/checker.
func NewCSRF(cfg CSRFConfig) (*CSRF, error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("security: CSRF key must be at least 32 bytes")
	}
	if cfg.Nonces == nil && !cfg.Reusable {
		return nil, errors.New("security: single-use CSRF tokens need a NonceStore")
	}
	c := &CSRF{nonces: cfg.Nonces, ttl: cfg.TTL, reusable: cfg.Reusable, clock: cfg.Clock}
	if c.ttl <= 0 {
		c.ttl = defaultCSRFTTL(c.reusable)
	}
	blake3.DeriveKey("propsec 2026 csrf token mac v1", cfg.Key, c.key[:])
	c.macs.New = func() any {
		h, _ := blake3.NewKeyed(c.key[:]) // cannot fail: the key is 32 bytes
		return h
	}
	return c, nil
}

// defaultCSRFTTL is the documented default of [CSRFConfig.TTL].
func defaultCSRFTTL(reusable bool) time.Duration {
	if reusable {
		return 12 * time.Hour
	}
	return time.Hour
}

// Issue returns a new token for the session with public id sessionID. It
// writes nothing.
func (c *CSRF) Issue(sessionID string) string {
	var raw [csrfRawLen]byte
	raw[0] = csrfVersion
	raw[1] = modeSingle
	if c.reusable {
		raw[1] = modeReusable
	}
	exp := Now(c.clock).Add(c.ttl).Unix()
	binary.BigEndian.PutUint64(raw[2:10], uint64(exp))
	rand.Read(raw[10 : 10+csrfNonceLen])
	c.mac(sessionID, raw[:csrfRawLen-csrfMACLen], raw[csrfRawLen-csrfMACLen:])
	return hex.EncodeToString(raw[:])
}

func (c *CSRF) mac(sessionID string, body, out []byte) {
	h := c.macs.Get().(*blake3.Hasher)
	h.Reset()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(sessionID)))
	h.Write(n[:])
	h.WriteString(sessionID)
	h.Write(body)
	var sum [32]byte
	h.Sum(sum[:0])
	copy(out, sum[:])
	c.macs.Put(h)
}

// Check verifies that token was issued for sessionID, has not expired and,
// in single-use mode, has not been used; then marks it used. Every failure
// wraps [ErrCSRF] except a failure of the NonceStore, which is returned as is.
func (c *CSRF) Check(ctx context.Context, sessionID, token string) error {
	if token == "" {
		return CSRFRefusal(CSRFMissing, "missing")
	}
	if len(token) != CSRFTokenLen || !lowerHex(token) {
		return CSRFRefusal(CSRFForged, "malformed")
	}
	var raw [csrfRawLen]byte
	if n, err := hex.Decode(raw[:], []byte(token)); err != nil || n != csrfRawLen {
		return CSRFRefusal(CSRFForged, "malformed")
	}
	var want [csrfMACLen]byte
	c.mac(sessionID, raw[:csrfRawLen-csrfMACLen], want[:])
	if subtle.ConstantTimeCompare(want[:], raw[csrfRawLen-csrfMACLen:]) != 1 {
		return CSRFRefusal(CSRFForeign, "not issued for this session")
	}
	if raw[0] != csrfVersion {
		return CSRFRefusal(CSRFForged, "unknown version")
	}
	// A token made in one mode is not accepted in the other, so switching a
	// deployment to single-use takes effect at once.
	if (raw[1] == modeReusable) != c.reusable {
		return CSRFRefusal(CSRFForeign, "wrong mode")
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(raw[2:10])), 0)
	if !Now(c.clock).Before(exp) {
		return CSRFRefusal(CSRFExpired, "expired")
	}
	if c.reusable {
		return nil
	}
	fresh, err := c.nonces.ConsumeNonce(ctx, sha256.Sum256(raw[10:10+csrfNonceLen]), exp)
	if err != nil {
		return err
	}
	if !fresh {
		return CSRFRefusal(CSRFReplayed, "already used")
	}
	return nil
}

// SecretStore keeps named random secrets, such as the CSRF key, so that every
// instance of a host shares them. Stores implement it.
type SecretStore interface {
	// Secret returns the secret called name, creating it with size random
	// bytes on first use. Concurrent first calls must all get the same bytes.
	// An existing secret is returned as stored, whatever size is asked; a
	// size below one is [ErrInvalid].
	Secret(ctx context.Context, name string, size int) ([]byte, error)
}

// Derive returns a CSRF whose tokens are valid only there, not at c, and
// c's only at c: its MAC key is derived from c's key and purpose, so two
// derived CSRFs with different purposes, and c itself, never accept each
// other's tokens. It shares c's clock and NonceStore. reusable sets its
// mode; its TTL is c's when the mode is c's, else the mode's default.
// Single-use needs c to have a NonceStore. purpose must not be empty.
func (c *CSRF) Derive(purpose string, reusable bool) (*CSRF, error) {
	if purpose == "" {
		return nil, errors.New("security: CSRF.Derive needs a purpose")
	}
	if !reusable && c.nonces == nil {
		return nil, errors.New("security: single-use CSRF tokens need a NonceStore")
	}
	d := &CSRF{nonces: c.nonces, ttl: c.ttl, reusable: reusable, clock: c.clock}
	if reusable != c.reusable {
		d.ttl = defaultCSRFTTL(reusable)
	}
	// The purpose is length-prefixed inside the derivation's input, so no
	// purpose is a prefix trick on another.
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(purpose)))
	material := append(append(append([]byte{}, c.key[:]...), n[:]...), purpose...)
	blake3.DeriveKey("propsec 2026 csrf derived purpose key v1", material, d.key[:])
	d.macs.New = func() any {
		h, _ := blake3.NewKeyed(d.key[:])
		return h
	}
	return d, nil
}
