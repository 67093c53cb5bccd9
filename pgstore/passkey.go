package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
)

var _ passkey.Store = (*Store)(nil)

// CreateCeremony implements [passkey.Store].
func (s *Store) CreateCeremony(ctx context.Context, c passkey.Ceremony) error {
	n, err := s.exec(ctx, "create passkey ceremony", `INSERT INTO passkey_ceremonies (`+sqlrow.CeremonyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`, sqlrow.CeremonyArgs(c)...)
	if err == nil && n == 0 {
		err = wrap("create passkey ceremony", fmt.Errorf("ceremony %s: %w", c.ID, security.ErrConflict))
	}
	return err
}

// TakeCeremony implements [passkey.Store]: one DELETE … RETURNING, so of
// concurrent takes exactly one gets the row.
func (s *Store) TakeCeremony(ctx context.Context, id string) (passkey.Ceremony, error) {
	var c passkey.Ceremony
	err := s.write(ctx, "take passkey ceremony", func(tx pgx.Tx) (err error) {
		c, err = sqlrow.ScanCeremony(tx.QueryRow(ctx,
			`DELETE FROM passkey_ceremonies WHERE id = $1 RETURNING `+sqlrow.CeremonyCols, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("passkey ceremony")
		}
		return err
	})
	return c, err
}

// PurgeCeremonies implements [passkey.Store].
func (s *Store) PurgeCeremonies(ctx context.Context, before time.Time) error {
	_, err := s.execIdem(ctx, "purge passkey ceremonies", `DELETE FROM passkey_ceremonies WHERE expires_at < $1`, nanos(before))
	return err
}

// AddCredential implements [passkey.Store].
func (s *Store) AddCredential(ctx context.Context, c passkey.Credential, events []security.Event) error {
	args, err := sqlrow.PasskeyArgs(c)
	if err != nil {
		return wrap("add passkey", err)
	}
	return s.write(ctx, "add passkey", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO passkeys (`+sqlrow.PasskeyCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("passkey: %w", security.ErrConflict)
		}
		return insertEvents(ctx, tx, events)
	})
}

// Credentials implements [passkey.Store].
func (s *Store) Credentials(ctx context.Context, userID int64) ([]passkey.Credential, error) {
	cs, err := query(ctx, s, sqlrow.ScanPasskey,
		`SELECT `+sqlrow.PasskeyCols+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, seq`, userID)
	if err != nil {
		return nil, wrap("passkeys", err)
	}
	return cs, nil
}

// CountCredentials implements [passkey.Store].
func (s *Store) CountCredentials(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := s.row(ctx, `SELECT count(*) FROM passkeys WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return 0, wrap("count passkeys", err)
	}
	return n, nil
}

// UseCredential implements [passkey.Store]: the row is read FOR UPDATE, so
// concurrent uses of one credential check the counter one after the other.
func (s *Store) UseCredential(ctx context.Context, u passkey.Use, events []security.Event) (passkey.Credential, error) {
	var c passkey.Credential
	var cloned bool
	err := s.write(ctx, "use passkey", func(tx pgx.Tx) (err error) {
		cloned = false
		c, err = sqlrow.ScanPasskey(tx.QueryRow(ctx,
			`SELECT `+sqlrow.PasskeyCols+` FROM passkeys WHERE user_id = $1 AND id = $2 FOR UPDATE`, u.UserID, u.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("passkey")
		}
		if err != nil {
			return err
		}
		if passkey.Refused(c, u.SignCount) {
			cloned = true
			_, err := tx.Exec(ctx, `UPDATE passkeys SET clone_warning = true WHERE id = $1`, u.ID)
			return err
		}
		c.SignCount, c.UserVerified, c.BackupState, c.LastUsedAt = u.SignCount, c.UserVerified || u.UserVerified, u.BackupState, u.At
		if _, err := tx.Exec(ctx, `UPDATE passkeys SET sign_count = $1, user_verified = $2, backup_state = $3,
			last_used_at = $4 WHERE id = $5`, int64(c.SignCount), c.UserVerified, c.BackupState, nanos(c.LastUsedAt), u.ID); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
	if err == nil && cloned {
		return passkey.Credential{}, passkey.ErrCloned
	}
	return c, err
}

// RemoveCredential implements [passkey.Store].
func (s *Store) RemoveCredential(ctx context.Context, userID int64, id []byte, events []security.Event) error {
	return s.write(ctx, "remove passkey", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM passkeys WHERE user_id = $1 AND id = $2`, userID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("passkey")
		}
		return insertEvents(ctx, tx, events)
	})
}
