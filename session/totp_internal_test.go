package session

import (
	"bytes"
	"testing"
	"time"
)

// TestTOTPVectors checks the algorithm against RFC 6238 appendix B (SHA-1,
// eight digits, 30-second steps, the ASCII seed "12345678901234567890").
func TestTOTPVectors(t *testing.T) {
	seed := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		got := totpCode(seed, uint64(totpStep(time.Unix(tc.unix, 0))), 8)
		if got != tc.want {
			t.Errorf("T=%d: got %s, want %s", tc.unix, got, tc.want)
		}
	}
	// RFC 4226 appendix D (HOTP, six digits) for the truncation.
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"} {
		if got := totpCode(seed, uint64(i), 6); got != want {
			t.Errorf("HOTP count %d: got %s, want %s", i, got, want)
		}
	}
}

func TestMatchTOTPSkew(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := totpStep(now)
	for d := int64(-2); d <= 2; d++ {
		code := totpCode(secret, uint64(cur+d), TOTPDigits)
		step, ok := matchTOTP(secret, code, now)
		if want := d >= -1 && d <= 1; ok != want || (ok && step != cur+d) {
			t.Errorf("step %+d: ok=%v step=%d", d, ok, step)
		}
	}
}

func TestSealTOTPBindsUser(t *testing.T) {
	k := deriveKeys(bytes.Repeat([]byte{7}, FactorKeySize))
	sealed := k.sealTOTP(1, []byte("secret"))
	if got, err := k.openTOTP(1, sealed); err != nil || string(got) != "secret" {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := k.openTOTP(2, sealed); err == nil {
		t.Fatal("a secret sealed for user 1 opened for user 2")
	}
	other := deriveKeys(bytes.Repeat([]byte{8}, FactorKeySize))
	if _, err := other.openTOTP(1, sealed); err == nil {
		t.Fatal("a secret opened under another key")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.openTOTP(1, sealed); err == nil {
		t.Fatal("a tampered secret opened")
	}
}

func TestRecoveryCodeShape(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := newRecoveryCode()
		n, ok := normalizeRecoveryCode(c)
		if !ok || len(c) != 14 || seen[n] {
			t.Fatalf("code %q: normalized %q ok=%v", c, n, ok)
		}
		seen[n] = true
		if n2, ok := normalizeRecoveryCode(" " + toUpper(c) + " "); !ok || n2 != n {
			t.Fatalf("%q does not normalize like %q", toUpper(c), c)
		}
	}
	for _, bad := range []string{"", "abcd-efgh-jkm", "abcd-efgh-jkmn-p", "abcd-efgh-jkm0", "abcd-efgh-jkmé"} {
		if _, ok := normalizeRecoveryCode(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if c := newEmailCode(); !allDigits(c, EmailCodeDigits) {
		t.Fatalf("email code %q", c)
	}
}

func toUpper(s string) string { return string(bytes.ToUpper([]byte(s))) }

// BenchmarkTOTPVerify is the CPU cost of checking one TOTP code: opening
// the sealed secret and comparing the codes of the three steps of the
// window (the store's replay write is not included).
func BenchmarkTOTPVerify(b *testing.B) {
	k := deriveKeys(bytes.Repeat([]byte{7}, FactorKeySize))
	secret := []byte("12345678901234567890")
	sealed := k.sealTOTP(1, secret)
	now := time.Unix(1111111111, 0)
	code := totpCode(secret, uint64(totpStep(now)), TOTPDigits)
	for b.Loop() {
		s, err := k.openTOTP(1, sealed)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := matchTOTP(s, code, now); !ok {
			b.Fatal("no match")
		}
	}
}
