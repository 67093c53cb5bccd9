package sqlrow_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
)

// FuzzDecodePermissions checks the fast path of DecodePermissions against
// encoding/json: on what EncodePermissions writes, and on any text at all.
func FuzzDecodePermissions(f *testing.F) {
	for _, s := range []string{`[]`, `["a"]`, `["api.security.sessions.list","api.security.sessions.manage"]`,
		`["a\"b"]`, `["a","b\\"]`, `["\u003c"]`, `[ "a" ]`, `["a",]`, `["","x"]`, `null`, `["a"]x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := sqlrow.DecodePermissions(s)
		var want []security.Permission
		if jerr := json.Unmarshal([]byte(s), &want); jerr != nil {
			if s != "" {
				assert.Error(t, err, "json refuses %q", s)
			}
		} else {
			require.NoError(t, err)
			if len(want) == 0 {
				want = nil
			}
			assert.Equal(t, want, got)
		}

		// What EncodePermissions writes reads back as it was.
		perms := []security.Permission{security.Permission(s), "x"}
		enc, err := sqlrow.EncodePermissions(perms)
		require.NoError(t, err)
		got, err = sqlrow.DecodePermissions(enc)
		require.NoError(t, err)
		var back []security.Permission
		require.NoError(t, json.Unmarshal([]byte(enc), &back))
		assert.Equal(t, back, got)
	})
}
