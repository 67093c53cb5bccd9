package security_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/stretchr/testify/require"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newCSRF(t testing.TB, reusable bool) (*security.CSRF, *fakeclock.Clock) {
	t.Helper()
	clk := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c, err := security.NewCSRF(security.CSRFConfig{Key: testKey, Nonces: memstore.New(), Clock: clk, Reusable: reusable})
	require.NoError(t, err)
	return c, clk
}

func TestNewCSRFConfig(t *testing.T) {
	_, err := security.NewCSRF(security.CSRFConfig{Key: []byte("short"), Nonces: memstore.New()})
	require.Error(t, err, "short key")
	_, err = security.NewCSRF(security.CSRFConfig{Key: testKey})
	require.Error(t, err, "single-use without a nonce store")
	_, err = security.NewCSRF(security.CSRFConfig{Key: testKey, Reusable: true})
	require.NoError(t, err, "reusable tokens need no nonce store")
}

func TestCSRFSingleUse(t *testing.T) {
	ctx := context.Background()
	c, clk := newCSRF(t, false)
	tok := c.Issue("sess_a")
	require.Len(t, tok, security.CSRFTokenLen)
	require.Equal(t, strings.ToLower(tok), tok)
	require.NotEqual(t, tok, c.Issue("sess_a"), "every token is fresh")

	// Several outstanding tokens (tabs) are each valid once.
	tok2 := c.Issue("sess_a")
	require.NoError(t, c.Check(ctx, "sess_a", tok))
	require.NoError(t, c.Check(ctx, "sess_a", tok2))

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	fresh := c.Issue("sess_a")
	cases := []struct {
		name, session, token string
		reason               security.CSRFReason
	}{
		{"replayed", "sess_a", tok, security.CSRFReplayed},
		{"missing", "sess_a", "", security.CSRFMissing},
		{"foreign session", "sess_b", fresh, security.CSRFForeign},
		// A forgery of the right shape fails the MAC like a foreign token.
		{"forged mac", "sess_a", flip(fresh, len(fresh)-1), security.CSRFForeign},
		{"forged expiry", "sess_a", flip(fresh, 5), security.CSRFForeign},
		{"truncated", "sess_a", fresh[:len(fresh)-2], security.CSRFForged},
		{"not hex", "sess_a", strings.Repeat("z", security.CSRFTokenLen), security.CSRFForged},
		{"uppercase", "sess_a", strings.ToUpper(fresh), security.CSRFForged},
		{"session token instead", "sess_a", security.NewToken(), security.CSRFForged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(ctx, tc.session, tc.token)
			require.ErrorIs(t, err, security.ErrCSRF)
			require.Equal(t, tc.reason, security.CSRFReasonOf(err))
		})
	}
	// The refused attempts did not consume the fresh token.
	require.NoError(t, c.Check(ctx, "sess_a", fresh))

	exp := c.Issue("sess_a")
	clk.Advance(time.Hour)
	err := c.Check(ctx, "sess_a", exp)
	require.ErrorIs(t, err, security.ErrCSRF, "expired at exactly TTL")
	require.Equal(t, security.CSRFExpired, security.CSRFReasonOf(err))
}

func TestCSRFReusable(t *testing.T) {
	ctx := context.Background()
	c, clk := newCSRF(t, true)
	tok := c.Issue("sess_a")
	for range 3 {
		require.NoError(t, c.Check(ctx, "sess_a", tok))
	}
	require.ErrorIs(t, c.Check(ctx, "sess_b", tok), security.ErrCSRF)
	clk.Advance(12 * time.Hour)
	require.ErrorIs(t, c.Check(ctx, "sess_a", tok), security.ErrCSRF)

	// A token of one mode is refused by the other.
	single, _ := newCSRF(t, false)
	require.ErrorIs(t, single.Check(ctx, "sess_a", c.Issue("sess_a")), security.ErrCSRF)
}

func TestCSRFKeySeparatesDeployments(t *testing.T) {
	a, _ := newCSRF(t, false)
	other := []byte("another key that is 32 bytes lng")
	b, err := security.NewCSRF(security.CSRFConfig{Key: other, Nonces: memstore.New()})
	require.NoError(t, err)
	require.ErrorIs(t, b.Check(context.Background(), "sess_a", a.Issue("sess_a")), security.ErrCSRF)
}

func TestCSRFConcurrentReplay(t *testing.T) {
	c, _ := newCSRF(t, false)
	tok := c.Issue("sess_a")
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if err := c.Check(context.Background(), "sess_a", tok); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, security.ErrCSRF) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, ok.Load())
}

type failingNonces struct{}

func (failingNonces) ConsumeNonce(context.Context, [32]byte, time.Time) (bool, error) {
	return false, errors.New("disk on fire")
}

func TestCSRFStoreFailureIsNotCSRFError(t *testing.T) {
	c, err := security.NewCSRF(security.CSRFConfig{Key: testKey, Nonces: failingNonces{}})
	require.NoError(t, err)
	err = c.Check(context.Background(), "s", c.Issue("s"))
	require.Error(t, err)
	require.NotErrorIs(t, err, security.ErrCSRF, "a store failure must surface as a server error")
}

func FuzzCSRFCheck(f *testing.F) {
	c, _ := newCSRF(f, false)
	f.Add("sess_a", c.Issue("sess_a"))
	f.Add("sess_a", "")
	f.Add("", strings.Repeat("0", security.CSRFTokenLen))
	f.Fuzz(func(t *testing.T, session, token string) {
		err := c.Check(context.Background(), session, token)
		if err == nil {
			// Only a token this CSRF issued may pass; the fuzzer cannot
			// forge a 128-bit MAC, so the only candidate is the seed,
			// and only once.
			if session != "sess_a" {
				t.Fatalf("accepted token %q for %q", token, session)
			}
		} else if !errors.Is(err, security.ErrCSRF) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

func BenchmarkCSRFIssueCheck(b *testing.B) {
	c, _ := newCSRF(b, false)
	ctx := context.Background()
	for b.Loop() {
		if err := c.Check(ctx, "sess_abc", c.Issue("sess_abc")); err != nil {
			b.Fatal(err)
		}
	}
}

// Derived CSRFs accept only their own tokens: not their parent's, not a
// sibling's of another purpose, and the parent accepts none of theirs,
// whatever the modes.
func TestCSRFDeriveSeparatesPurposes(t *testing.T) {
	ctx := context.Background()
	for _, parentReusable := range []bool{false, true} {
		parent, clk := newCSRF(t, parentReusable)
		forms, err := parent.Derive("host forms", parentReusable)
		require.NoError(t, err)
		formsAgain, err := parent.Derive("host forms", parentReusable)
		require.NoError(t, err)
		other, err := parent.Derive("host formsx", parentReusable)
		require.NoError(t, err)

		require.ErrorIs(t, parent.Check(ctx, "sess_a", forms.Issue("sess_a")), security.ErrCSRF, "parent took a derived token")
		require.ErrorIs(t, forms.Check(ctx, "sess_a", parent.Issue("sess_a")), security.ErrCSRF, "derived took the parent's token")
		require.ErrorIs(t, other.Check(ctx, "sess_a", forms.Issue("sess_a")), security.ErrCSRF, "sibling took a token")
		require.ErrorIs(t, forms.Check(ctx, "sess_b", forms.Issue("sess_a")), security.ErrCSRF, "foreign session")
		require.NoError(t, formsAgain.Check(ctx, "sess_a", forms.Issue("sess_a")), "same key and purpose")

		// Mode and TTL: reusable derived tokens live the reusable default
		// when the parent is single-use; single-use ones are consumed once.
		reusable, err := parent.Derive("r", true)
		require.NoError(t, err)
		tok := reusable.Issue("sess_a")
		require.NoError(t, reusable.Check(ctx, "sess_a", tok))
		require.NoError(t, reusable.Check(ctx, "sess_a", tok))
		single, err := parent.Derive("s", false)
		require.NoError(t, err)
		tok = single.Issue("sess_a")
		require.NoError(t, single.Check(ctx, "sess_a", tok))
		require.ErrorIs(t, single.Check(ctx, "sess_a", tok), security.ErrCSRF, "replayed")
		tok = reusable.Issue("sess_a")
		clk.Advance(11 * time.Hour)
		require.NoError(t, reusable.Check(ctx, "sess_a", tok), "a reusable derived token lives 12h")
		clk.Advance(time.Hour)
		require.ErrorIs(t, reusable.Check(ctx, "sess_a", tok), security.ErrCSRF, "expired")
	}
	noStore, err := security.NewCSRF(security.CSRFConfig{Key: testKey, Reusable: true})
	require.NoError(t, err)
	_, err = noStore.Derive("s", false)
	require.Error(t, err, "single-use without a nonce store")
	_, err = noStore.Derive("", true)
	require.Error(t, err, "empty purpose")
}
