package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
)

var _ passkey.Store = (*Store)(nil)

// CreateCeremony implements [passkey.Store].
func (s *Store) CreateCeremony(ctx context.Context, c passkey.Ceremony) error {
	n, err := s.exec(ctx, "create passkey ceremony", `INSERT INTO passkey_ceremonies (`+sqlrow.CeremonyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, sqlrow.CeremonyArgs(c)...)
	if err == nil && n == 0 {
		err = wrap("create passkey ceremony", fmt.Errorf("ceremony %s: %w", c.ID, security.ErrConflict))
	}
	return err
}

// TakeCeremony implements [passkey.Store]: one DELETE … RETURNING, so of
// concurrent takes exactly one gets the row.
func (s *Store) TakeCeremony(ctx context.Context, id string) (passkey.Ceremony, error) {
	var c passkey.Ceremony
	err := s.write(ctx, "take passkey ceremony", func(tx *sql.Tx) (err error) {
		c, err = sqlrow.ScanCeremony(tx.QueryRowContext(ctx,
			`DELETE FROM passkey_ceremonies WHERE id = ? RETURNING `+sqlrow.CeremonyCols, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("passkey ceremony")
		}
		return err
	})
	return c, err
}

// PurgeCeremonies implements [passkey.Store].
func (s *Store) PurgeCeremonies(ctx context.Context, before time.Time) error {
	_, err := s.exec(ctx, "purge passkey ceremonies", `DELETE FROM passkey_ceremonies WHERE expires_at < ?`, nanos(before))
	return err
}

// AddCredential implements [passkey.Store].
func (s *Store) AddCredential(ctx context.Context, c passkey.Credential, events []security.Event) error {
	args, err := sqlrow.PasskeyArgs(c)
	if err != nil {
		return wrap("add passkey", err)
	}
	return s.write(ctx, "add passkey", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `INSERT INTO passkeys (`+sqlrow.PasskeyCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("passkey: %w", security.ErrConflict)
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// Credentials implements [passkey.Store].
func (s *Store) Credentials(ctx context.Context, userID int64) ([]passkey.Credential, error) {
	cs, err := collect(sqlrow.ScanPasskey)(s.r.QueryContext(ctx,
		`SELECT `+sqlrow.PasskeyCols+` FROM passkeys WHERE user_id = ? ORDER BY created_at, rowid`, userID))
	if err != nil {
		return nil, wrap("passkeys", err)
	}
	return cs, nil
}

// CountCredentials implements [passkey.Store].
func (s *Store) CountCredentials(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return 0, wrap("count passkeys", err)
	}
	return n, nil
}

// UseCredential implements [passkey.Store]: the counter check and the
// update are one transaction under the write lock.
func (s *Store) UseCredential(ctx context.Context, u passkey.Use, events []security.Event) (passkey.Credential, error) {
	var c passkey.Credential
	var cloned bool
	err := s.write(ctx, "use passkey", func(tx *sql.Tx) (err error) {
		c, err = sqlrow.ScanPasskey(tx.QueryRowContext(ctx,
			`SELECT `+sqlrow.PasskeyCols+` FROM passkeys WHERE user_id = ? AND id = ?`, u.UserID, u.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("passkey")
		}
		if err != nil {
			return err
		}
		if passkey.Refused(c, u.SignCount) {
			cloned = true
			_, err := tx.ExecContext(ctx, `UPDATE passkeys SET clone_warning = 1 WHERE id = ?`, u.ID)
			return err
		}
		c.SignCount, c.UserVerified, c.BackupState, c.LastUsedAt = u.SignCount, c.UserVerified || u.UserVerified, u.BackupState, u.At
		if _, err := tx.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, user_verified = ?, backup_state = ?,
			last_used_at = ? WHERE id = ?`, int64(c.SignCount), c.UserVerified, c.BackupState, nanos(c.LastUsedAt), u.ID); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, events)
	})
	if err == nil && cloned {
		return passkey.Credential{}, passkey.ErrCloned
	}
	return c, err
}

// RemoveCredential implements [passkey.Store].
func (s *Store) RemoveCredential(ctx context.Context, userID int64, id []byte, events []security.Event) error {
	return s.write(ctx, "remove passkey", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `DELETE FROM passkeys WHERE user_id = ? AND id = ?`, userID, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("passkey")
		}
		return s.insertEvents(ctx, tx, events)
	})
}
