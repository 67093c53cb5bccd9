package session

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordBytes is the longest password accepted, to bound the work one
// request can cause.
const MaxPasswordBytes = 1024

// Hasher hashes passwords with argon2id into PHC strings
// ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash"). The zero value uses
// [DefaultHasher]'s parameters.
type Hasher struct {
	// Memory in KiB. Default 19456 (19 MiB), OWASP's recommendation.
	Memory uint32
	// Time is the number of passes. Default 2.
	Time uint32
	// Threads is the parallelism. Default 1.
	Threads uint8
}

// DefaultHasher holds OWASP's argon2id parameters: m=19 MiB, t=2, p=1.
var DefaultHasher = Hasher{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

func (h Hasher) params() Hasher {
	if h.Memory == 0 {
		h.Memory = DefaultHasher.Memory
	}
	if h.Time == 0 {
		h.Time = DefaultHasher.Time
	}
	if h.Threads == 0 {
		h.Threads = DefaultHasher.Threads
	}
	return h
}

// Hash returns the PHC string of password with a fresh random salt.
func (h Hasher) Hash(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("session: password longer than %d bytes", MaxPasswordBytes)
	}
	p := h.params()
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return p.encode(salt, key), nil
}

// dummy returns a PHC string with p's parameters and a random salt and
// key, made without hashing: no password matches it (but with chance
// 2^-256), and verifying one against it costs what a real hash of the same
// parameters does. Login verifies unknown emails against it, so they take
// as long as wrong passwords, from the first attempt on.
func (p Hasher) dummy() string {
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	rand.Read(salt)
	rand.Read(key)
	return p.encode(salt, key)
}

func (p Hasher) encode(salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

type phc struct {
	params Hasher
	salt   []byte
	key    []byte
}

var errBadPHC = errors.New("session: malformed argon2id PHC string")

// Limits on parameters read from a stored hash, so a corrupted or hostile
// row cannot make one verification take gigabytes or minutes.
const (
	maxPHCMemory = 1 << 20 // KiB: 1 GiB
	maxPHCTime   = 64
)

func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errBadPHC
	}
	var out phc
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return phc{}, errBadPHC
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return phc{}, errBadPHC
		}
		switch k {
		case "m":
			out.params.Memory = uint32(n)
		case "t":
			out.params.Time = uint32(n)
		case "p":
			if n > 255 {
				return phc{}, errBadPHC
			}
			out.params.Threads = uint8(n)
		default:
			return phc{}, errBadPHC
		}
	}
	if out.params.Memory == 0 || out.params.Time == 0 || out.params.Threads == 0 ||
		out.params.Memory > maxPHCMemory || out.params.Time > maxPHCTime {
		return phc{}, errBadPHC
	}
	var err error
	b64 := base64.RawStdEncoding
	if out.salt, err = b64.DecodeString(parts[4]); err != nil || len(out.salt) < 8 {
		return phc{}, errBadPHC
	}
	if out.key, err = b64.DecodeString(parts[5]); err != nil || len(out.key) < 16 || len(out.key) > 64 {
		return phc{}, errBadPHC
	}
	return out, nil
}

// Verify reports whether password matches the PHC string encoded, comparing
// in constant time, and whether encoded was made with parameters other than
// h's (so the caller should store a fresh hash). A malformed PHC string is an
// error.
func (h Hasher) Verify(encoded, password string) (ok, stale bool, err error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, false, nil
	}
	key := argon2.IDKey([]byte(password), p.salt, p.params.Time, p.params.Memory, p.params.Threads, uint32(len(p.key)))
	ok = subtle.ConstantTimeCompare(key, p.key) == 1
	return ok, p.params != h.params() || len(p.key) != keyLen, nil
}
