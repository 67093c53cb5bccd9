package security

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// TokenBytes is the number of random bytes in a credential.
const TokenBytes = 32

// TokenHash is the stored form of a credential: SHA-256 of its text.
type TokenHash [32]byte

// NewToken returns a new credential: [TokenBytes] bytes from crypto/rand as
// 64 lowercase hex digits.
func NewToken() string {
	var b [TokenBytes]byte
	rand.Read(b[:]) // never returns an error; crashes the program if the OS cannot supply randomness
	return hex.EncodeToString(b[:])
}

// HashToken returns the stored form of a credential. Credentials carry 256
// bits of entropy, so a fast hash is enough: it cannot be brute-forced back.
func HashToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// ValidTokenFormat reports whether s has the shape of a credential made by
// [NewToken]: exactly 64 lowercase hex digits.
func ValidTokenFormat(s string) bool {
	return len(s) == 2*TokenBytes && lowerHex(s)
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 20 random characters (100 bits), for
// public identifiers such as "sess_…" and "chk_…". Such ids are unguessable
// but are not credentials.
func NewID(prefix string) string {
	var b [15]byte // 15 bytes encode to 24 base32 characters; keep 20
	rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])[:20]
}

// ValidID reports whether s has the shape of an id made by [NewID] with prefix.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 20 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
