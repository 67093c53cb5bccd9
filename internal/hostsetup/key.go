package hostsetup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/propops/propsec/integrity"
)

// IntegrityKeyEnv names the environment variable that may hold the baseline
// MAC key (hex) instead of -integrity-key, which other local users can see
// in the process list. internal/envflag fills the flag from it.
const IntegrityKeyEnv = "PROPSEC_INTEGRITY_KEY"

// IntegrityKey returns the key that authenticates the integrity baseline
// and where it came from: flagValue (the value of the flag flagName, which
// envflag may have filled from [IntegrityKeyEnv]), else the key file
// db+".integrity-key", which is created (0600) with 32 random bytes on
// first use. The key is never stored in the database: whoever could rewrite
// the baseline there could otherwise forge its MAC too. A PostgreSQL db has
// no key file: the key must be given.
func IntegrityKey(flagName, flagValue, db string) ([]byte, string, error) {
	if flagValue == "" && IsPostgres(db) {
		return nil, "", fmt.Errorf("a PostgreSQL database needs %s or $%s (no key file is kept beside a database URL)", flagName, IntegrityKeyEnv)
	}
	return keyOrFile(flagName, flagValue, db+".integrity-key")
}

// FactorKeyEnv names the environment variable that may hold the key of
// second factors (session.Config.FactorKey, hex) instead of -factor-key.
const FactorKeyEnv = "PROPSEC_FACTOR_KEY"

// FactorKeyBytes is the size of session.Config.FactorKey.
const FactorKeyBytes = 32

// FactorKey returns the key that encrypts TOTP secrets and keys the hashes
// of recovery and e-mailed codes (session.Config.FactorKey), and where it
// came from: flagValue (hex, FactorKeyBytes bytes), else the key file
// db+".factor-key", created (0600) with random bytes on first use; never
// the database. A PostgreSQL db without flagValue has none: it returns a
// nil key and no error, and TOTP stays off.
func FactorKey(flagName, flagValue, db string) ([]byte, string, error) {
	if flagValue == "" && IsPostgres(db) {
		return nil, "", nil
	}
	k, src, err := keyOrFile(flagName, flagValue, db+".factor-key")
	if err == nil && len(k) != FactorKeyBytes {
		return nil, "", fmt.Errorf("%s: the factor key must be %d bytes (%d hex digits)", src, FactorKeyBytes, 2*FactorKeyBytes)
	}
	return k, src, err
}

// keyOrFile is the key of flagValue (hex), else of the key file path,
// created with 32 random bytes when missing.
func keyOrFile(flagName, flagValue, path string) ([]byte, string, error) {
	if flagValue != "" {
		k, err := ParseKey(flagValue)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", flagName, err)
		}
		return k, flagName, nil
	}
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k = make([]byte, 32)
		rand.Read(k)
		err = writeKeyFile(path, k)
	}
	if err != nil {
		return nil, "", err
	}
	return k, path, nil
}

// ParseKey reads an integrity key: hex, at least integrity.MinKeyBytes
// bytes, surrounding white space ignored.
func ParseKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("the key must be hex")
	}
	if len(k) < integrity.MinKeyBytes {
		return nil, fmt.Errorf("the key must be at least %d bytes (%d hex digits)", integrity.MinKeyBytes, 2*integrity.MinKeyBytes)
	}
	return k, nil
}

// readKeyFile reads a key file, refusing one that others may read or write.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: permissions %04o let other users read it; chmod 600 it", path, st.Mode().Perm())
	}
	buf := make([]byte, 1024)
	n, err := f.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	k, err := ParseKey(string(buf[:n]))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func writeKeyFile(path string, k []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
