package security_test

import (
	"strings"
	"testing"

	"github.com/propops/propsec/security"
	"github.com/stretchr/testify/require"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := security.NewToken()
		require.True(t, security.ValidTokenFormat(tok), tok)
		require.False(t, seen[tok])
		seen[tok] = true
	}
	require.NotEqual(t, security.HashToken("a"), security.HashToken("b"))
}

func TestValidTokenFormat(t *testing.T) {
	good := strings.Repeat("ab", 32)
	require.True(t, security.ValidTokenFormat(good))
	for _, bad := range []string{"", good[:63], good + "a", strings.ToUpper(good), strings.Repeat("g", 64), " " + good[1:]} {
		require.False(t, security.ValidTokenFormat(bad), bad)
	}
}

func TestNewID(t *testing.T) {
	id := security.NewID("sess_")
	require.True(t, security.ValidID("sess_", id), id)
	require.Len(t, id, len("sess_")+20)
	require.False(t, security.ValidID("chk_", id))
	require.False(t, security.ValidID("sess_", id+"a"))
	require.False(t, security.ValidID("sess_", "sess_"+strings.Repeat("A", 20)))
	require.NotEqual(t, id, security.NewID("sess_"))
}

func TestCleanText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Mozilla/5.0 (X11)", "Mozilla/5.0 (X11)"},
		{"evil\r\nINFO forged", `evil\u000d\u000aINFO forged`},
		{"tab\tesc\x1b", `tab\u0009esc\u001b`},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"line\u2028sep", `line\u2028sep`},
		{"naïve", "naïve"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, security.CleanText(c.in, 100), c.in)
	}
	require.Equal(t, "na", security.CleanText("naïve", 3), "never splits a character")
	require.Equal(t, "ab", security.CleanText("ab\n", 7), "never splits an escape")
}

func FuzzCleanText(f *testing.F) {
	f.Add("a\r\nb", 10)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		out := security.CleanText(s, max)
		if len(out) > max {
			t.Fatalf("len %d > %d", len(out), max)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("control character %q in %q", r, out)
			}
		}
	})
}
