package main

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

// integrityKeyEnv names the environment variable that may hold the baseline
// MAC key (hex), instead of -integrity-key, which other local users can see
// in the process list. envflag fills -integrity-key from it.
const integrityKeyEnv = envPrefix + "_INTEGRITY_KEY"

// integrityKey returns the key that authenticates the integrity baseline:
// from -integrity-key (or its variable, $PROPSEC_INTEGRITY_KEY), else the
// key file beside the database, which is created (0600) with 32 random
// bytes on first use. The key is never stored in the database: whoever
// could rewrite the baseline there could otherwise forge its MAC too.
func integrityKey(flagValue, dbPath string) ([]byte, string, error) {
	if flagValue != "" {
		k, err := parseKey(flagValue)
		if err != nil {
			return nil, "", fmt.Errorf("-integrity-key: %w", err)
		}
		return k, "-integrity-key", nil
	}
	path := dbPath + ".integrity-key"
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

func parseKey(s string) ([]byte, error) {
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
	k, err := parseKey(string(buf[:n]))
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
