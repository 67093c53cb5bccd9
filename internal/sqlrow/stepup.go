package sqlrow

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/propops/propsec/session"
)

// VerificationCols are the columns of a pending verification, in the order
// [ScanVerification] reads them and [VerificationArgs] lists them.
const VerificationCols = `id_hash, user_id, kind, ip, user_agent, location, methods, reason, new_ip,
	password_breached, code_hash, attempts, created_at, expires_at`

// VerificationArgs are the values of [VerificationCols] for v.
func VerificationArgs(v session.PendingVerification) []any {
	return []any{v.IDHash[:], v.UserID, string(v.Kind), v.IP, v.UserAgent, v.Location, strings.Join(v.Methods, ","),
		v.Reason, v.NewIP, v.PasswordBreached, v.CodeHash, v.Attempts, Nanos(v.CreatedAt), Nanos(v.ExpiresAt)}
}

// ScanVerification reads [VerificationCols].
func ScanVerification(sc Scanner) (session.PendingVerification, error) {
	var v session.PendingVerification
	var hash []byte
	var kind, methods string
	var created, expires int64
	if err := sc.Scan(&hash, &v.UserID, &kind, &v.IP, &v.UserAgent, &v.Location, &methods, &v.Reason, &v.NewIP,
		&v.PasswordBreached, &v.CodeHash, &v.Attempts, &created, &expires); err != nil {
		return session.PendingVerification{}, err
	}
	if len(hash) != len(v.IDHash) {
		return session.PendingVerification{}, fmt.Errorf("verification id hash of %d bytes", len(hash))
	}
	copy(v.IDHash[:], hash)
	v.Kind = session.Kind(kind)
	if methods != "" {
		v.Methods = strings.Split(methods, ",")
	}
	if len(v.CodeHash) == 0 {
		v.CodeHash = nil
	}
	v.CreatedAt, v.ExpiresAt = FromNanos(created), FromNanos(expires)
	return v, nil
}

// TOTPCols are the columns of a TOTP factor, in the order [ScanTOTP]
// reads them.
const TOTPCols = `user_id, sealed, confirmed_at, last_step, created_at`

// ScanTOTP reads [TOTPCols].
func ScanTOTP(sc Scanner) (session.TOTPFactor, error) {
	var f session.TOTPFactor
	var confirmed sql.NullInt64
	var created int64
	if err := sc.Scan(&f.UserID, &f.Sealed, &confirmed, &f.LastStep, &created); err != nil {
		return session.TOTPFactor{}, err
	}
	f.ConfirmedAt, f.CreatedAt = FromNullNanos(confirmed), FromNanos(created)
	return f, nil
}

// RecoveryCodeArgs flattens codes into (user_id, code_hash) pairs for a
// multi-row INSERT, and returns the VALUES list with placeholders made by
// ph (1-based).
func RecoveryCodeArgs(userID int64, codes []session.RecoveryCodeHash, ph func(i int) string) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2*len(codes))
	for i, c := range codes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%s, %s)", ph(2*i+1), ph(2*i+2))
		args = append(args, userID, c[:])
	}
	return b.String(), args
}
