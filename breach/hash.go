package breach

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/propops/propsec/security"
)

// HashKind names the hash a [Source] is keyed by.
type HashKind uint8

// The hash kinds of the Pwned Passwords corpus.
const (
	// SHA1 is SHA-1 of the password's UTF-8 bytes: 40 hex digits. The
	// default everywhere.
	SHA1 HashKind = 1
	// NTLM is the NT hash, MD4 of the password's UTF-16LE bytes: 32 hex
	// digits (HIBP's ?mode=ntlm). Useful for auditing Windows directories.
	NTLM HashKind = 2
)

// PrefixLen is the number of hex digits in a range prefix: the only part of
// a hash that ever leaves the process.
const PrefixLen = 5

// Buckets is the number of distinct prefixes (16^5 = 2^20).
const Buckets = 1 << 20

// HexLen is the length of a whole hash of this kind in hex digits.
func (k HashKind) HexLen() int {
	switch k {
	case SHA1:
		return 40
	case NTLM:
		return 32
	}
	return 0
}

// SuffixLen is the length of a suffix of this kind in hex digits.
func (k HashKind) SuffixLen() int { return k.HexLen() - PrefixLen }

// String returns "sha1" or "ntlm".
func (k HashKind) String() string {
	switch k {
	case SHA1:
		return "sha1"
	case NTLM:
		return "ntlm"
	}
	return fmt.Sprintf("HashKind(%d)", uint8(k))
}

// valid reports whether k is a known kind.
func (k HashKind) valid() bool { return k == SHA1 || k == NTLM }

// recSize is the size of one packed record of this kind: the suffix's
// nibbles followed by a 20-bit count, which takes the place the prefix had
// in the hash. 20 bytes for SHA-1, 16 for NTLM.
func (k HashKind) recSize() int { return k.HexLen() / 2 }

// ParsePrefix validates a range prefix: exactly 5 hex digits, either case.
// It returns the prefix in uppercase, HIBP's spelling. Anything else is an
// error wrapping [security.ErrInvalid] for the field "hash_prefix", with a
// reason safe to show the client.
func ParsePrefix(s string) (string, error) {
	if len(s) != PrefixLen || !isHex(s) {
		return "", security.Invalid("hash_prefix", "must be exactly 5 hexadecimal digits")
	}
	return upperHex(s), nil
}

// ParseSuffix validates the rest of a SHA-1 hash after its prefix: exactly
// 35 hex digits, either case. It returns the suffix in uppercase. Anything
// else is an error wrapping [security.ErrInvalid] for the field
// "hash_suffix".
func ParseSuffix(s string) (string, error) {
	if len(s) != SHA1.SuffixLen() || !isHex(s) {
		return "", security.Invalid("hash_suffix", "must be exactly 35 hexadecimal digits")
	}
	return upperHex(s), nil
}

// HashPassword returns the uppercase hex SHA-1 of password's bytes, the
// form Pwned Passwords is keyed by.
func HashPassword(password string) string {
	sum := sha1.Sum([]byte(password))
	var b [40]byte
	for i, c := range sum {
		b[2*i], b[2*i+1] = hexDigits[c>>4], hexDigits[c&15]
	}
	return string(b[:])
}

const hexDigits = "0123456789ABCDEF"

// unhex maps an ASCII byte to its hex value, or 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < 10; i++ {
		t['0'+i] = byte(i)
	}
	for i := 0; i < 6; i++ {
		t['a'+i], t['A'+i] = byte(10+i), byte(10+i)
	}
	return t
}()

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex[s[i]] == 0xff {
			return false
		}
	}
	return true
}

// upperHex uppercases s, which is hex, allocating only when it must.
func upperHex(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// prefixValue returns the 20-bit value of a 5-hex-digit prefix, or false.
func prefixValue[S ~string | ~[]byte](s S) (uint32, bool) {
	if len(s) != PrefixLen {
		return 0, false
	}
	var v, bad uint32
	for i := 0; i < PrefixLen; i++ {
		d := uint32(unhex[s[i]])
		bad |= d
		v = v<<4 | d&15
	}
	return v, bad&0xf0 == 0
}

// prefixString formats a 20-bit prefix as 5 uppercase hex digits.
func prefixString(p uint32) string {
	var b [PrefixLen]byte
	for i := PrefixLen - 1; i >= 0; i-- {
		b[i] = hexDigits[p&15]
		p >>= 4
	}
	return string(b[:])
}

// Records. A record is the hash shifted left by the prefix's 20 bits, with
// the count in the freed 20 bits at the end: the suffix's nibbles, then the
// count's. Ordering records bytewise orders them by suffix. Counts from 1 to
// maxInline are stored in the record; larger ones store countEscape and
// live in a side table.
const (
	countBits   = 20
	countEscape = 1<<countBits - 1
	maxInline   = countEscape - 1
	maxRecSize  = 20
)

// packSuffix writes the suffix's hex digits (len = k.SuffixLen(), an odd
// number) into rec (len = k.recSize()) and sets the count field to field.
// It reports false if a digit is not hex.
func packSuffix[S ~string | ~[]byte](rec []byte, suffix S, field uint32) bool {
	n := len(suffix) // odd
	var bad byte
	j := 0
	for i := 0; i+1 < n; i += 2 {
		hi, lo := unhex[suffix[i]], unhex[suffix[i+1]]
		bad |= hi | lo
		rec[j] = hi<<4 | lo&15
		j++
	}
	last := unhex[suffix[n-1]]
	bad |= last
	rec[j] = last<<4 | byte(field>>16)&15
	rec[j+1] = byte(field >> 8)
	rec[j+2] = byte(field)
	return bad&0xf0 == 0
}

// countField returns the count field of a record.
func countField(rec []byte) uint32 {
	n := len(rec)
	return uint32(rec[n-3]&15)<<16 | uint32(rec[n-2])<<8 | uint32(rec[n-1])
}

// inlineField returns the count field for count: the count itself when it
// fits, else countEscape.
func inlineField(count int64) uint32 {
	if count <= maxInline {
		return uint32(count)
	}
	return countEscape
}

// compareSuffix compares the suffixes of two records of the same kind,
// ignoring their counts.
func compareSuffix(a, b []byte) int {
	n := len(a) - 3
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	x, y := a[n]&0xf0, b[n]&0xf0
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// appendSuffixHex appends the suffix of rec as uppercase hex.
func appendSuffixHex(dst, rec []byte) []byte {
	n := len(rec) - 3
	for i := 0; i < n; i++ {
		dst = append(dst, hexDigits[rec[i]>>4], hexDigits[rec[i]&15])
	}
	return append(dst, hexDigits[rec[n]>>4])
}

// searchRecs returns the index of the record in recs (packed, sorted,
// size bytes each) whose suffix equals key's, or -1. Hashes are uniformly
// distributed, so the key's top 64 bits predict its position: the search
// probes there first, gallops outward to bracket the key, and ends with a
// binary search of the bracket. A lookup touches a few neighbouring cache
// lines instead of a binary search's spread of them; a skewed input costs
// at most about twice a binary search.
func searchRecs(recs []byte, size int, key []byte) int {
	n := len(recs) / size
	if n == 0 {
		return -1
	}
	cmp := func(i int) int { return compareSuffix(recs[i*size:i*size+size], key) }
	guess, _ := bits.Mul64(binary.BigEndian.Uint64(key), uint64(n))
	i := int(guess)
	lo, hi := 0, n // the key, if present, is in [lo, hi)
	switch c := cmp(i); {
	case c == 0:
		return i
	case c < 0:
		lo = i + 1
		for step := 1; ; step <<= 1 {
			j := i + step
			if j >= n {
				break
			}
			c := cmp(j)
			if c == 0 {
				return j
			}
			if c > 0 {
				hi = j
				break
			}
			lo = j + 1
		}
	default:
		hi = i
		for step := 1; ; step <<= 1 {
			j := i - step
			if j < 0 {
				break
			}
			c := cmp(j)
			if c == 0 {
				return j
			}
			if c < 0 {
				lo = j + 1
				break
			}
			hi = j
		}
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch cmp(m) {
		case -1:
			lo = m + 1
		case 1:
			hi = m
		default:
			return m
		}
	}
	return -1
}
