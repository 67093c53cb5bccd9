package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// CreateVerification implements [session.VerificationStore].
func (s *Store) CreateVerification(ctx context.Context, v session.PendingVerification, events []security.Event) error {
	return s.write(ctx, "create verification", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO verifications (`+sqlrow.VerificationCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sqlrow.VerificationArgs(v)...); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// VerificationByIDHash implements [session.VerificationStore].
func (s *Store) VerificationByIDHash(ctx context.Context, h security.TokenHash) (session.PendingVerification, error) {
	v, err := sqlrow.ScanVerification(s.r.QueryRowContext(ctx,
		`SELECT `+sqlrow.VerificationCols+` FROM verifications WHERE id_hash = ?`, h[:]))
	if err != nil {
		return session.PendingVerification{}, rowErr("verification by id hash", "verification", err)
	}
	return v, nil
}

// FailVerification implements [session.VerificationStore]: one UPDATE
// counts the failure (writes are serialized), and the verification that
// reaches max is deleted in the same transaction.
func (s *Store) FailVerification(ctx context.Context, h security.TokenHash, max int, events []security.Event) (int, error) {
	var n int
	err := s.write(ctx, "fail verification", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE verifications SET attempts = attempts + 1 WHERE id_hash = ?
			RETURNING attempts`, h[:]).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("verification")
		}
		if err != nil {
			return err
		}
		if n >= max {
			if _, err := tx.ExecContext(ctx, `DELETE FROM verifications WHERE id_hash = ?`, h[:]); err != nil {
				return err
			}
		}
		return s.insertEvents(ctx, tx, events)
	})
	return n, err
}

// ConsumeVerification implements [session.VerificationStore].
func (s *Store) ConsumeVerification(ctx context.Context, h security.TokenHash) error {
	n, err := s.exec(ctx, "consume verification", `DELETE FROM verifications WHERE id_hash = ?`, h[:])
	if err == nil && n == 0 {
		err = wrap("consume verification", notFound("verification"))
	}
	return err
}

// TOTP implements [session.FactorStore].
func (s *Store) TOTP(ctx context.Context, userID int64) (session.TOTPFactor, error) {
	f, err := sqlrow.ScanTOTP(s.r.QueryRowContext(ctx, `SELECT `+sqlrow.TOTPCols+` FROM totp_factors WHERE user_id = ?`,
		userID))
	if err != nil {
		return session.TOTPFactor{}, rowErr("TOTP factor", "TOTP factor", err)
	}
	return f, nil
}

// PutPendingTOTP implements [session.FactorStore].
func (s *Store) PutPendingTOTP(ctx context.Context, f session.TOTPFactor, events []security.Event) error {
	return s.write(ctx, "put pending TOTP", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `INSERT INTO totp_factors (user_id, sealed, confirmed_at, last_step, created_at)
			VALUES (?, ?, NULL, 0, ?)
			ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at
			WHERE totp_factors.confirmed_at IS NULL`, f.UserID, f.Sealed, nanos(f.CreatedAt))
		if err != nil {
			return err
		}
		if n == 0 {
			return security.ErrConflict
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// ConfirmTOTP implements [session.FactorStore].
func (s *Store) ConfirmTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time, step int64, codes []session.RecoveryCodeHash, events []security.Event) error {
	return s.write(ctx, "confirm TOTP", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `UPDATE totp_factors SET confirmed_at = ?, last_step = ?
			WHERE user_id = ? AND sealed = ? AND confirmed_at IS NULL`, nanos(at), step, userID, sealed)
		if err != nil {
			return err
		}
		if n == 0 {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ?)`,
				userID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return notFound("TOTP factor")
			}
			return security.ErrConflict
		}
		if err := replaceCodes(ctx, tx, userID, codes); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// replaceCodes replaces userID's recovery codes with codes.
func replaceCodes(ctx context.Context, tx *sql.Tx, userID int64, codes []session.RecoveryCodeHash) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	if len(codes) == 0 {
		return nil
	}
	values, args := sqlrow.RecoveryCodeArgs(userID, codes, func(int) string { return "?" })
	_, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES `+values, args...)
	return err
}

// UseTOTPStep implements [session.FactorStore]: one conditional UPDATE, so
// of concurrent uses of one step exactly one changes the row.
func (s *Store) UseTOTPStep(ctx context.Context, userID int64, step int64, events []security.Event) (bool, error) {
	return s.useOnce(ctx, "use TOTP step", events, `UPDATE totp_factors SET last_step = ?
		WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`, step, userID, step)
}

// useOnce runs a conditional UPDATE and, when it changed a row, events, in
// one transaction; it reports whether it changed one.
func (s *Store) useOnce(ctx context.Context, op string, events []security.Event, query string, args ...any) (bool, error) {
	var won bool
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, query, args...)
		if err != nil || n == 0 {
			return err
		}
		won = true
		return s.insertEvents(ctx, tx, events)
	})
	return won, err
}

// DeleteSecondFactors implements [session.FactorStore].
func (s *Store) DeleteSecondFactors(ctx context.Context, userID int64, events []security.Event) error {
	return s.write(ctx, "delete second factors", func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM totp_factors WHERE user_id = ?`, `DELETE FROM recovery_codes WHERE user_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// ReplaceRecoveryCodes implements [session.FactorStore].
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, codes []session.RecoveryCodeHash, events []security.Event) error {
	return s.write(ctx, "replace recovery codes", func(tx *sql.Tx) error {
		if err := replaceCodes(ctx, tx, userID, codes); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// UseRecoveryCode implements [session.FactorStore].
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, h session.RecoveryCodeHash, at time.Time, events []security.Event) (bool, error) {
	return s.useOnce(ctx, "use recovery code", events, `UPDATE recovery_codes SET used_at = ?
		WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`, nanos(at), userID, h[:])
}

// RecoveryCodesLeft implements [session.FactorStore].
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`,
		userID).Scan(&n); err != nil {
		return 0, wrap("recovery codes left", err)
	}
	return n, nil
}

var (
	_ session.VerificationStore = (*Store)(nil)
	_ session.FactorStore       = (*Store)(nil)
)
