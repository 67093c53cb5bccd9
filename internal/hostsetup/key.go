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
	"github.com/propops/propsec/session"
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
	return flagOrFileKey(flagName, flagValue, db, ".integrity-key", IntegrityKeyEnv, 0)
}

// FactorKeyEnv names the environment variable that may hold the key of the
// second factors (session.Config.FactorKey: e-mailed codes, TOTP secrets,
// recovery codes) instead of -factor-key.
const FactorKeyEnv = "PROPSEC_FACTOR_KEY"

// FactorKey is [IntegrityKey] for session.Config.FactorKey: exactly
// session.FactorKeySize (32) bytes, from flagValue or the key file
// db+".factor-key". Like the integrity key it is never in the database:
// whoever reads the database must not be able to check codes offline or
// open TOTP secrets.
func FactorKey(flagName, flagValue, db string) ([]byte, string, error) {
	return flagOrFileKey(flagName, flagValue, db, ".factor-key", FactorKeyEnv, session.FactorKeySize)
}

// flagOrFileKey is a key from a flag's value, else from the file
// db+suffix, created on first use; size, when not 0, is its exact length.
func flagOrFileKey(flagName, flagValue, db, suffix, env string, size int) ([]byte, string, error) {
	checkSize := func(k []byte, from string) error {
		if size != 0 && len(k) != size {
			return fmt.Errorf("%s: the key must be exactly %d bytes (%d hex digits)", from, size, 2*size)
		}
		return nil
	}
	if flagValue != "" {
		k, err := ParseKey(flagValue)
		if err == nil {
			err = checkSize(k, flagName)
		} else {
			err = fmt.Errorf("%s: %w", flagName, err)
		}
		if err != nil {
			return nil, "", err
		}
		return k, flagName, nil
	}
	if IsPostgres(db) {
		return nil, "", fmt.Errorf("a PostgreSQL database needs %s or $%s (no key file is kept beside a database URL)", flagName, env)
	}
	path := db + suffix
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		n := size
		if n == 0 {
			n = 32
		}
		k = make([]byte, n)
		rand.Read(k)
		err = writeKeyFile(path, k)
	}
	if err == nil {
		err = checkSize(k, path)
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
