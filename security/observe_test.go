package security_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
)

type recorder struct{ got []security.Measurement }

func (r *recorder) Observe(m security.Measurement) { r.got = append(r.got, m) }

func TestMultiObserver(t *testing.T) {
	require.Nil(t, security.MultiObserver(), "none")
	require.Nil(t, security.MultiObserver(nil, nil), "only nils")
	a, b := &recorder{}, &recorder{}
	require.Same(t, a, security.MultiObserver(nil, a), "one is returned as is")

	m := security.Measurement{Kind: security.KindLogin, Result: "ok"}
	security.MultiObserver(security.MultiObserver(a, nil), b, a).Observe(m)
	require.Equal(t, []security.Measurement{m, m}, a.got, "a was given twice")
	require.Equal(t, []security.Measurement{m}, b.got)
}

func TestCSRFReasonOf(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want security.CSRFReason
	}{
		{"typed", security.CSRFRefusal(security.CSRFReplayed, "already used"), security.CSRFReplayed},
		{"wrapped", fmt.Errorf("check: %w", security.CSRFRefusal(security.CSRFExpired, "expired")), security.CSRFExpired},
		{"plain ErrCSRF", fmt.Errorf("%w: two tokens", security.ErrCSRF), security.CSRFForged},
		{"not CSRF", errors.New("disk full"), ""},
		{"nil", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, security.CSRFReasonOf(tc.err))
		})
	}
	err := security.CSRFRefusal(security.CSRFMissing, "missing")
	require.ErrorIs(t, err, security.ErrCSRF)
	require.Equal(t, "invalid CSRF token: missing", err.Error())
}
