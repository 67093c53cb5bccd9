package passkey

import (
	"context"
	"errors"
	"time"

	"github.com/propops/propsec/security"
)

// Credential is one registered passkey: every field of the WebAuthn
// credential record (§4 "Credential Record") that a later ceremony or an
// audit needs, plus the name the user gave it and its times.
type Credential struct {
	// ID is the credential id the authenticator chose (at most
	// [MaxCredentialIDBytes] bytes). It is unique across all users.
	ID     []byte
	UserID int64
	// Name is the user's label for it ("laptop", "YubiKey"), at most
	// [MaxNameRunes] characters.
	Name string
	// PublicKey is the COSE_Key of the credential.
	PublicKey []byte
	// AttestationType is what the attestation statement proved ("none",
	// "basic_full", "self", …) and AttestationFormat its format ("none",
	// "packed", …).
	AttestationType   string
	AttestationFormat string
	// Attestation holds the raw attestation object, client data and
	// authenticator data of the registration (JSON of go-webauthn's
	// CredentialAttestation), so that the credential can be checked
	// against authenticator metadata later.
	Attestation []byte
	// Transports are the transports the client reported ("internal",
	// "usb", "hybrid", …).
	Transports []string
	// AAGUID identifies the authenticator model (16 bytes; zero for
	// "none" attestation from many platforms).
	AAGUID []byte
	// SignCount is the last signature counter seen.
	SignCount uint32
	// UserPresent and UserVerified are the UP flag and uvInitialized of
	// the record; BackupEligible (BE) never changes, BackupState (BS) may.
	UserPresent    bool
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	// CloneWarning is set when an assertion's counter did not increase:
	// the credential may have been copied, and it is refused from then on
	// (see "Sign counters" in the package doc).
	CloneWarning bool
	CreatedAt    time.Time
	// LastUsedAt is the time of the last accepted assertion (zero: never).
	LastUsedAt time.Time
}

// Use is what an accepted assertion changes on its credential.
type Use struct {
	UserID int64
	ID     []byte
	// SignCount is the counter the authenticator reported.
	SignCount    uint32
	UserVerified bool
	BackupState  bool
	At           time.Time
}

// Ceremony kinds.
const (
	KindRegistration = "registration"
	KindAssertion    = "assertion"
)

// Ceremony is the server-side state of one registration or assertion
// between its begin and its finish. The client holds only its ID.
type Ceremony struct {
	// ID is the public handle ("pkc_…"), not a credential: finishing
	// needs the authenticator's signature over the challenge in Data too.
	ID   string
	Kind string
	// UserID is whom the ceremony is for.
	UserID int64
	// Binding is what the ceremony belongs to: the session id that began a
	// registration, the verification id of an assertion. Finishing with
	// another one is refused.
	Binding string
	// IP and UserAgent are the client's when it began.
	IP        string
	UserAgent string
	// Data is go-webauthn's SessionData (challenge, allowed credentials,
	// user verification), as JSON.
	Data      []byte
	ExpiresAt time.Time
}

// Store keeps passkeys and ceremonies. Errors for missing rows wrap
// [security.ErrNotFound]. Methods that take events write them in the same
// transaction as their change.
type Store interface {
	security.EventRecorder

	// CreateCeremony stores c. An existing id is [security.ErrConflict].
	CreateCeremony(ctx context.Context, c Ceremony) error
	// TakeCeremony deletes the ceremony id and returns it, expired or not.
	// Of concurrent calls with one id exactly one gets it; the others, like
	// an unknown id, get [security.ErrNotFound].
	TakeCeremony(ctx context.Context, id string) (Ceremony, error)

	// AddCredential stores c. A credential id already registered (to
	// anyone) is [security.ErrConflict] and stores nothing.
	AddCredential(ctx context.Context, c Credential, events []security.Event) error
	// Credentials lists userID's passkeys, oldest first.
	Credentials(ctx context.Context, userID int64) ([]Credential, error)
	// CountCredentials says how many passkeys userID has.
	CountCredentials(ctx context.Context, userID int64) (int, error)
	// UseCredential records an accepted assertion, atomically with respect
	// to every other use of the credential: when the stored counter and
	// u.SignCount are not both zero and u.SignCount is not greater than the
	// stored one, or the credential already has CloneWarning, it sets
	// CloneWarning, changes nothing else, writes no event and fails with
	// [ErrCloned]; otherwise it stores the counter, UV (it only ever turns
	// on), BS and LastUsedAt = u.At, and writes events. An unknown (userID,
	// ID) is [security.ErrNotFound] and writes nothing.
	UseCredential(ctx context.Context, u Use, events []security.Event) (Credential, error)
	// RemoveCredential deletes userID's credential id, or fails with
	// [security.ErrNotFound] and writes nothing.
	RemoveCredential(ctx context.Context, userID int64, id []byte, events []security.Event) error
	// PurgeCeremonies deletes ceremonies that expired before before.
	PurgeCeremonies(ctx context.Context, before time.Time) error
}

// ErrCloned is [Store.UseCredential]'s refusal of a counter that went
// backwards (or did not move), or of a credential already flagged.
var ErrCloned = errors.New("passkey: signature counter did not increase; the credential may be cloned")

// Refused reports whether [Store.UseCredential] must refuse an assertion
// with counter count on stored: the stored credential is flagged already,
// or the counter did not grow (both zero is no regression: synced passkeys
// always report 0). Stores call it under their lock or row lock.
func Refused(stored Credential, count uint32) bool {
	return stored.CloneWarning || ((count != 0 || stored.SignCount != 0) && count <= stored.SignCount)
}
