package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIntegrityKey(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")

	k1, src, err := integrityKey("", db)
	require.NoError(t, err)
	require.Len(t, k1, 32)
	require.Equal(t, db+".integrity-key", src)
	st, err := os.Stat(src)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	k2, _, err := integrityKey("", db)
	require.NoError(t, err)
	require.Equal(t, k1, k2, "the key file is reused")

	flagKey := strings.Repeat("ab", 32)
	k3, src, err := integrityKey(flagKey, db)
	require.NoError(t, err)
	require.Equal(t, "-integrity-key", src)
	require.Equal(t, flagKey, hex.EncodeToString(k3))

	for _, bad := range []string{"zz", strings.Repeat("ab", 31)} {
		_, _, err := integrityKey(bad, db)
		require.Error(t, err, bad)
	}
	require.NoError(t, os.Chmod(src0(db), 0o644))
	_, _, err = integrityKey("", db)
	require.ErrorContains(t, err, "chmod 600", "a readable key file is refused")
}

func src0(db string) string { return db + ".integrity-key" }
