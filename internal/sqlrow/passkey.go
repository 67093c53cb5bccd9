package sqlrow

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/propops/propsec/passkey"
)

// PasskeyCols are the columns of a passkey, in the order [ScanPasskey]
// reads them.
const PasskeyCols = `id, user_id, name, public_key, attestation_type, attestation_format, attestation,
	transports, aaguid, sign_count, user_present, user_verified, backup_eligible, backup_state,
	clone_warning, created_at, last_used_at`

// PasskeyArgs are the values of [PasskeyCols] for c, in order, as the
// arguments of an INSERT. Transports are a JSON array; times are
// nanoseconds ([Nanos]), the last use NULL when never.
func PasskeyArgs(c passkey.Credential) ([]any, error) {
	tr := c.Transports
	if tr == nil {
		tr = []string{}
	}
	transports, err := json.Marshal(tr)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.UserID, c.Name, c.PublicKey, c.AttestationType, c.AttestationFormat, nonNil(c.Attestation),
		string(transports), nonNil(c.AAGUID), int64(c.SignCount), c.UserPresent, c.UserVerified, c.BackupEligible,
		c.BackupState, c.CloneWarning, Nanos(c.CreatedAt), NullNanos(c.LastUsedAt)}, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ScanPasskey reads [PasskeyCols].
func ScanPasskey(sc Scanner) (passkey.Credential, error) {
	var c passkey.Credential
	var transports string
	var count, created int64
	var lastUsed sql.NullInt64
	if err := sc.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.AttestationType, &c.AttestationFormat,
		&c.Attestation, &transports, &c.AAGUID, &count, &c.UserPresent, &c.UserVerified, &c.BackupEligible,
		&c.BackupState, &c.CloneWarning, &created, &lastUsed); err != nil {
		return passkey.Credential{}, err
	}
	if err := json.Unmarshal([]byte(transports), &c.Transports); err != nil {
		return passkey.Credential{}, fmt.Errorf("passkey transports: %w", err)
	}
	if count < 0 || count > 1<<32-1 {
		return passkey.Credential{}, fmt.Errorf("passkey sign count %d out of range", count)
	}
	c.SignCount, c.CreatedAt, c.LastUsedAt = uint32(count), FromNanos(created), FromNullNanos(lastUsed)
	return c, nil
}

// CeremonyCols are the columns of a passkey ceremony, in the order
// [ScanCeremony] reads them.
const CeremonyCols = `id, kind, user_id, binding, ip, user_agent, data, expires_at`

// CeremonyArgs are the values of [CeremonyCols] for c, in order.
func CeremonyArgs(c passkey.Ceremony) []any {
	return []any{c.ID, c.Kind, c.UserID, c.Binding, c.IP, c.UserAgent, nonNil(c.Data), Nanos(c.ExpiresAt)}
}

// ScanCeremony reads [CeremonyCols].
func ScanCeremony(sc Scanner) (passkey.Ceremony, error) {
	var c passkey.Ceremony
	var expires int64
	if err := sc.Scan(&c.ID, &c.Kind, &c.UserID, &c.Binding, &c.IP, &c.UserAgent, &c.Data, &expires); err != nil {
		return passkey.Ceremony{}, err
	}
	c.ExpiresAt = FromNanos(expires)
	return c, nil
}
