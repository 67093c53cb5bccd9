package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/propops/propsec/security"
)

// TOTP parameters (RFC 6238 with the defaults every authenticator app
// supports): HMAC-SHA1, six digits, 30-second steps, one step of clock skew
// either way.
const (
	TOTPDigits     = 6
	TOTPPeriod     = 30 * time.Second
	TOTPSkewSteps  = 1
	totpSecretSize = 20 // 160 bits, RFC 4226's recommendation
)

// EmailCodeDigits is the length of an e-mailed login code.
const EmailCodeDigits = 8

// RecoveryCodeCount recovery codes are made at a time.
const RecoveryCodeCount = 10

// FactorKeySize is the size of Config.FactorKey.
const FactorKeySize = 32

// MaxCodeBytes bounds a code sent to verify.
const MaxCodeBytes = 64

// totpCode is HOTP (RFC 4226) of counter under secret, with digits digits.
func totpCode(secret []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	s := strconv.FormatUint(uint64(bin%mod), 10)
	return strings.Repeat("0", digits-len(s)) + s
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// matchTOTP returns the step within the skew of now whose code is code,
// comparing every candidate in constant time, or false.
func matchTOTP(secret []byte, code string, now time.Time) (int64, bool) {
	cur := totpStep(now)
	var found int64
	ok := 0
	for s := cur - TOTPSkewSteps; s <= cur+TOTPSkewSteps; s++ {
		if s < 0 {
			continue
		}
		eq := subtle.ConstantTimeCompare([]byte(totpCode(secret, uint64(s), TOTPDigits)), []byte(code))
		if eq == 1 && ok == 0 {
			found, ok = s, 1
		}
	}
	return found, ok == 1
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// otpauthURI is the key URI authenticator apps read (the Google
// Authenticator key URI format).
func otpauthURI(issuer, account string, secret []byte) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", b32.EncodeToString(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(TOTPDigits))
	q.Set("period", strconv.Itoa(int(TOTPPeriod/time.Second)))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// factorKeys are the keys derived from Config.FactorKey, one per use.
type factorKeys struct {
	seal      []byte // XChaCha20-Poly1305 key of TOTP secrets
	emailCode []byte // HMAC key of e-mailed codes
	recovery  []byte // HMAC key of recovery codes
}

func deriveKeys(master []byte) *factorKeys {
	if len(master) == 0 {
		return nil
	}
	d := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("propsec/session/" + label))
		return m.Sum(nil)
	}
	return &factorKeys{seal: d("totp-seal"), emailCode: d("email-code"), recovery: d("recovery-code")}
}

// totpAD binds a sealed secret to its user: a row copied to another user
// does not open.
func totpAD(userID int64) []byte {
	return strconv.AppendInt([]byte("propsec totp v1 user "), userID, 10)
}

func (k *factorKeys) sealTOTP(userID int64, secret []byte) []byte {
	aead, _ := chacha20poly1305.NewX(k.seal) // the key is 32 bytes
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, secret, totpAD(userID))
}

var errBadSealedSecret = errors.New("session: stored TOTP secret does not open under Config.FactorKey")

func (k *factorKeys) openTOTP(userID int64, sealed []byte) ([]byte, error) {
	aead, _ := chacha20poly1305.NewX(k.seal)
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errBadSealedSecret
	}
	n := aead.NonceSize()
	secret, err := aead.Open(nil, sealed[:n], sealed[n:], totpAD(userID))
	if err != nil {
		return nil, errBadSealedSecret
	}
	return secret, nil
}

// emailCodeHash is the stored form of an e-mailed code, bound to its
// verification: an 8-digit code has only 27 bits, so it is keyed with a
// key outside the database.
func (k *factorKeys) emailCodeHash(id security.TokenHash, code string) []byte {
	m := hmac.New(sha256.New, k.emailCode)
	m.Write(id[:])
	m.Write([]byte(code))
	return m.Sum(nil)
}

// recoveryHash is the stored form of a recovery code (normalized).
func (k *factorKeys) recoveryHash(userID int64, code string) RecoveryCodeHash {
	m := hmac.New(sha256.New, k.recovery)
	m.Write(strconv.AppendInt(nil, userID, 10))
	m.Write([]byte{0})
	m.Write([]byte(code))
	var h RecoveryCodeHash
	copy(h[:], m.Sum(nil))
	return h
}

// newEmailCode returns a uniformly random code of EmailCodeDigits digits.
func newEmailCode() string {
	var b [EmailCodeDigits]byte
	for i := range b {
		b[i] = '0' + randBelow(10)
	}
	return string(b[:])
}

// randBelow returns a uniform random number below n (n ≤ 32).
func randBelow(n byte) byte {
	limit := 256 - 256%int(n)
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return b[0] % n
		}
	}
}

// recoveryAlphabet has no 0/o, 1/l/i: codes are read from paper.
const recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// recoveryCodeLen characters of recoveryAlphabet (31 symbols: about 59
// bits), shown as three groups of four.
const recoveryCodeLen = 12

// newRecoveryCode returns a code as shown to the user ("xxxx-xxxx-xxxx").
func newRecoveryCode() string {
	var b strings.Builder
	for i := range recoveryCodeLen {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(recoveryAlphabet[randBelow(byte(len(recoveryAlphabet)))])
	}
	return b.String()
}

// normalizeRecoveryCode lowercases code and drops dashes and spaces; it
// reports false when the rest is not recoveryCodeLen characters of the
// alphabet.
func normalizeRecoveryCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r < 0x80 && strings.IndexByte(recoveryAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == recoveryCodeLen
}

// allDigits reports whether s is n ASCII digits.
func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// TOTPCode returns the code an authenticator app shows at time t for the
// base32 secret of a [TOTPEnrollment]: for tests and examples.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := b32.DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		return "", security.Invalid("secret", "must be base32")
	}
	return totpCode(key, uint64(totpStep(t)), TOTPDigits), nil
}
