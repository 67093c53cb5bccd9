package pgstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// CreateVerification implements [session.VerificationStore].
func (s *Store) CreateVerification(ctx context.Context, v session.PendingVerification, events []security.Event) error {
	return s.write(ctx, "create verification", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO verifications (`+sqlrow.VerificationCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, sqlrow.VerificationArgs(v)...); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// VerificationByIDHash implements [session.VerificationStore].
func (s *Store) VerificationByIDHash(ctx context.Context, h security.TokenHash) (session.PendingVerification, error) {
	v, err := sqlrow.ScanVerification(s.row(ctx, `SELECT `+sqlrow.VerificationCols+` FROM verifications
		WHERE id_hash = $1`, h[:]))
	if err != nil {
		return session.PendingVerification{}, rowErr("verification by id hash", "verification", err)
	}
	return v, nil
}

// FailVerification implements [session.VerificationStore]: the UPDATE
// locks the row, so concurrent failures are counted one after another, and
// the verification that reaches max is deleted in the same transaction.
func (s *Store) FailVerification(ctx context.Context, h security.TokenHash, max int, events []security.Event) (int, error) {
	var n int
	err := s.write(ctx, "fail verification", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE verifications SET attempts = attempts + 1 WHERE id_hash = $1
			RETURNING attempts`, h[:]).Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("verification")
		}
		if err != nil {
			return err
		}
		if n >= max {
			if _, err := tx.Exec(ctx, `DELETE FROM verifications WHERE id_hash = $1`, h[:]); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	})
	return n, err
}

// ConsumeVerification implements [session.VerificationStore].
func (s *Store) ConsumeVerification(ctx context.Context, h security.TokenHash) error {
	n, err := s.exec(ctx, "consume verification", `DELETE FROM verifications WHERE id_hash = $1`, h[:])
	if err == nil && n == 0 {
		err = wrap("consume verification", notFound("verification"))
	}
	return err
}

// TOTP implements [session.FactorStore].
func (s *Store) TOTP(ctx context.Context, userID int64) (session.TOTPFactor, error) {
	f, err := sqlrow.ScanTOTP(s.row(ctx, `SELECT `+sqlrow.TOTPCols+` FROM totp_factors WHERE user_id = $1`, userID))
	if err != nil {
		return session.TOTPFactor{}, rowErr("TOTP factor", "TOTP factor", err)
	}
	return f, nil
}

// PutPendingTOTP implements [session.FactorStore].
func (s *Store) PutPendingTOTP(ctx context.Context, f session.TOTPFactor, events []security.Event) error {
	return s.write(ctx, "put pending TOTP", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO totp_factors (user_id, sealed, confirmed_at, last_step, created_at)
			VALUES ($1, $2, NULL, 0, $3)
			ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at
			WHERE totp_factors.confirmed_at IS NULL`, f.UserID, f.Sealed, nanos(f.CreatedAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return security.ErrConflict
		}
		return insertEvents(ctx, tx, events)
	})
}

// ConfirmTOTP implements [session.FactorStore].
func (s *Store) ConfirmTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time, step int64, codes []session.RecoveryCodeHash, events []security.Event) error {
	return s.write(ctx, "confirm TOTP", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE totp_factors SET confirmed_at = $1, last_step = $2
			WHERE user_id = $3 AND sealed = $4 AND confirmed_at IS NULL`, nanos(at), step, userID, sealed)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = $1)`,
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
		return insertEvents(ctx, tx, events)
	})
}

// replaceCodes replaces userID's recovery codes with codes.
func replaceCodes(ctx context.Context, tx pgx.Tx, userID int64, codes []session.RecoveryCodeHash) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	if len(codes) == 0 {
		return nil
	}
	values, args := sqlrow.RecoveryCodeArgs(userID, codes, func(i int) string { return "$" + strconv.Itoa(i) })
	_, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES `+values, args...)
	return err
}

// UseTOTPStep implements [session.FactorStore]: one conditional UPDATE;
// a concurrent one waits for the row and then finds the step taken.
func (s *Store) UseTOTPStep(ctx context.Context, userID int64, step int64, events []security.Event) (bool, error) {
	return s.useOnce(ctx, "use TOTP step", events, `UPDATE totp_factors SET last_step = $1
		WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1`, step, userID)
}

// useOnce runs a conditional UPDATE and, when it changed a row, events, in
// one transaction; it reports whether it changed one.
func (s *Store) useOnce(ctx context.Context, op string, events []security.Event, query string, args ...any) (bool, error) {
	var won bool
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		won = false
		tag, err := tx.Exec(ctx, query, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		won = true
		return insertEvents(ctx, tx, events)
	})
	return won, err
}

// DeleteSecondFactors implements [session.FactorStore].
func (s *Store) DeleteSecondFactors(ctx context.Context, userID int64, events []security.Event) error {
	return s.write(ctx, "delete second factors", func(tx pgx.Tx) error {
		for _, q := range []string{`DELETE FROM totp_factors WHERE user_id = $1`, `DELETE FROM recovery_codes WHERE user_id = $1`} {
			if _, err := tx.Exec(ctx, q, userID); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	})
}

// ReplaceRecoveryCodes implements [session.FactorStore].
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, codes []session.RecoveryCodeHash, events []security.Event) error {
	return s.write(ctx, "replace recovery codes", func(tx pgx.Tx) error {
		if err := replaceCodes(ctx, tx, userID, codes); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// UseRecoveryCode implements [session.FactorStore].
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, h session.RecoveryCodeHash, at time.Time, events []security.Event) (bool, error) {
	return s.useOnce(ctx, "use recovery code", events, `UPDATE recovery_codes SET used_at = $1
		WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL`, nanos(at), userID, h[:])
}

// RecoveryCodesLeft implements [session.FactorStore].
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := s.row(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
		userID).Scan(&n); err != nil {
		return 0, wrap("recovery codes left", err)
	}
	return n, nil
}

var (
	_ session.VerificationStore = (*Store)(nil)
	_ session.FactorStore       = (*Store)(nil)
)
