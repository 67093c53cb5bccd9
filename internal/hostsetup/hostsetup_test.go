package hostsetup

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

	k1, src, err := IntegrityKey("-integrity-key", "", db)
	require.NoError(t, err)
	require.Len(t, k1, 32)
	require.Equal(t, db+".integrity-key", src)
	st, err := os.Stat(src)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	k2, _, err := IntegrityKey("-integrity-key", "", db)
	require.NoError(t, err)
	require.Equal(t, k1, k2, "the key file is reused")

	flagKey := strings.Repeat("ab", 32)
	k3, src, err := IntegrityKey("-integrity-key", flagKey, db)
	require.NoError(t, err)
	require.Equal(t, "-integrity-key", src)
	require.Equal(t, flagKey, hex.EncodeToString(k3))

	for _, bad := range []string{"zz", strings.Repeat("ab", 31)} {
		_, _, err := IntegrityKey("-integrity-key", bad, db)
		require.Error(t, err, bad)
	}
	_, _, err = IntegrityKey("-k", "", "postgres://h/db")
	require.ErrorContains(t, err, "-k", "a PostgreSQL database has no key file")
	require.NoError(t, os.Chmod(src0(db), 0o644))
	_, _, err = IntegrityKey("-integrity-key", "", db)
	require.ErrorContains(t, err, "chmod 600", "a readable key file is refused")
}

func src0(db string) string { return db + ".integrity-key" }

func TestReadUsersRejectsBadFiles(t *testing.T) {
	cases := map[string]string{
		"not json":           `nope`,
		"object":             `{"id": 1}`,
		"unknown field":      `[{"id":1,"name":"a","email":"a@x","password":"p","account_type":"staff","admin":true}]`,
		"zero id":            `[{"id":0,"name":"a","email":"a@x","password":"p","account_type":"staff"}]`,
		"string id":          `[{"id":"1","name":"a","email":"a@x","password":"p","account_type":"staff"}]`,
		"duplicate id":       `[{"id":1,"email":"a@x","password":"p","account_type":"staff"},{"id":1,"email":"b@x","password":"p","account_type":"staff"}]`,
		"duplicate email":    `[{"id":1,"email":"a@x","password":"p","account_type":"staff"},{"id":2,"email":"A@x","password":"p","account_type":"staff"}]`,
		"no email":           `[{"id":1,"password":"p","account_type":"staff"}]`,
		"no password":        `[{"id":1,"email":"a@x","account_type":"staff"}]`,
		"no account type":    `[{"id":1,"email":"a@x","password":"p"}]`,
		"unknown permission": `[{"id":1,"email":"a@x","password":"p","account_type":"staff","permissions":["root"]}]`,
		"trailing data":      `[] []`,
	}
	dir := t.TempDir()
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
			_, err := ReadUsers(p)
			require.Error(t, err)
		})
	}
}

func TestFactorKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	k1, src, err := FactorKey("-factor-key", "", db)
	require.NoError(t, err)
	require.Len(t, k1, 32)
	require.Equal(t, db+".factor-key", src)
	st, err := os.Stat(src)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k2, _, err := FactorKey("-factor-key", "", db)
	require.NoError(t, err)
	require.Equal(t, k1, k2, "the key file is reused")
	ik, _, err := IntegrityKey("-integrity-key", "", db)
	require.NoError(t, err)
	require.NotEqual(t, k1, ik, "a key file of its own")

	_, _, err = FactorKey("-factor-key", strings.Repeat("ab", 33), db)
	require.ErrorContains(t, err, "exactly 32 bytes")
	_, _, err = FactorKey("-factor-key", "", "postgres://h/db")
	require.ErrorContains(t, err, "PROPSEC_FACTOR_KEY")
	long := filepath.Join(t.TempDir(), "q.db")
	require.NoError(t, os.WriteFile(long+".factor-key", []byte(strings.Repeat("ab", 40)+"\n"), 0o600))
	_, _, err = FactorKey("-factor-key", "", long)
	require.ErrorContains(t, err, "exactly 32 bytes", "a key file of the wrong size is refused")
}
