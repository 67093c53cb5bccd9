package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// stepUpState holds verifications, TOTP factors and recovery codes; s.mu
// guards it.
type stepUpState struct {
	verifications map[security.TokenHash]session.PendingVerification
	totp          map[int64]session.TOTPFactor
	recovery      map[int64]map[session.RecoveryCodeHash]time.Time // used at (zero: unused)
}

func (s *Store) stepUp() *stepUpState {
	if s.step.verifications == nil {
		s.step = stepUpState{verifications: map[security.TokenHash]session.PendingVerification{},
			totp: map[int64]session.TOTPFactor{}, recovery: map[int64]map[session.RecoveryCodeHash]time.Time{}}
	}
	return &s.step
}

func cloneVerification(v session.PendingVerification) session.PendingVerification {
	v.Methods = slices.Clone(v.Methods)
	v.CodeHash = slices.Clone(v.CodeHash)
	return v
}

// CreateVerification implements [session.VerificationStore].
func (s *Store) CreateVerification(_ context.Context, v session.PendingVerification, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stepUp()
	if _, dup := st.verifications[v.IDHash]; dup {
		return security.ErrConflict
	}
	st.verifications[v.IDHash] = cloneVerification(v)
	s.appendEvents(events)
	return nil
}

// VerificationByIDHash implements [session.VerificationStore].
func (s *Store) VerificationByIDHash(_ context.Context, h security.TokenHash) (session.PendingVerification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.stepUp().verifications[h]
	if !ok {
		return session.PendingVerification{}, notFound("verification")
	}
	return cloneVerification(v), nil
}

// FailVerification implements [session.VerificationStore].
func (s *Store) FailVerification(_ context.Context, h security.TokenHash, max int, events []security.Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stepUp()
	v, ok := st.verifications[h]
	if !ok {
		return 0, notFound("verification")
	}
	v.Attempts++
	if v.Attempts >= max {
		delete(st.verifications, h)
	} else {
		st.verifications[h] = v
	}
	s.appendEvents(events)
	return v.Attempts, nil
}

// ConsumeVerification implements [session.VerificationStore].
func (s *Store) ConsumeVerification(_ context.Context, h security.TokenHash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stepUp()
	if _, ok := st.verifications[h]; !ok {
		return notFound("verification")
	}
	delete(st.verifications, h)
	return nil
}

// TOTP implements [session.FactorStore].
func (s *Store) TOTP(_ context.Context, userID int64) (session.TOTPFactor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.stepUp().totp[userID]
	if !ok {
		return session.TOTPFactor{}, notFound("TOTP factor")
	}
	f.Sealed = slices.Clone(f.Sealed)
	return f, nil
}

// PutPendingTOTP implements [session.FactorStore].
func (s *Store) PutPendingTOTP(_ context.Context, f session.TOTPFactor, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stepUp()
	if old, ok := st.totp[f.UserID]; ok && old.Confirmed() {
		return security.ErrConflict
	}
	f.Sealed = slices.Clone(f.Sealed)
	f.ConfirmedAt, f.LastStep = time.Time{}, 0
	st.totp[f.UserID] = f
	s.appendEvents(events)
	return nil
}

// ConfirmTOTP implements [session.FactorStore].
func (s *Store) ConfirmTOTP(_ context.Context, userID int64, sealed []byte, at time.Time, step int64, codes []session.RecoveryCodeHash, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stepUp()
	f, ok := st.totp[userID]
	switch {
	case !ok:
		return notFound("TOTP factor")
	case f.Confirmed() || !slices.Equal(f.Sealed, sealed):
		return security.ErrConflict
	}
	f.ConfirmedAt, f.LastStep = at, step
	st.totp[userID] = f
	st.setCodes(userID, codes)
	s.appendEvents(events)
	return nil
}

func (st *stepUpState) setCodes(userID int64, codes []session.RecoveryCodeHash) {
	m := make(map[session.RecoveryCodeHash]time.Time, len(codes))
	for _, c := range codes {
		m[c] = time.Time{}
	}
	st.recovery[userID] = m
}

// UseTOTPStep implements [session.FactorStore].
func (s *Store) UseTOTPStep(_ context.Context, userID int64, step int64, events []security.Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stepUp()
	f, ok := st.totp[userID]
	if !ok || !f.Confirmed() || step <= f.LastStep {
		return false, nil
	}
	f.LastStep = step
	st.totp[userID] = f
	s.appendEvents(events)
	return true, nil
}

// DeleteSecondFactors implements [session.FactorStore].
func (s *Store) DeleteSecondFactors(_ context.Context, userID int64, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stepUp()
	delete(st.totp, userID)
	delete(st.recovery, userID)
	s.appendEvents(events)
	return nil
}

// ReplaceRecoveryCodes implements [session.FactorStore].
func (s *Store) ReplaceRecoveryCodes(_ context.Context, userID int64, codes []session.RecoveryCodeHash, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stepUp().setCodes(userID, codes)
	s.appendEvents(events)
	return nil
}

// UseRecoveryCode implements [session.FactorStore].
func (s *Store) UseRecoveryCode(_ context.Context, userID int64, h session.RecoveryCodeHash, at time.Time, events []security.Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	codes := s.stepUp().recovery[userID]
	used, ok := codes[h]
	if !ok || !used.IsZero() {
		return false, nil
	}
	codes[h] = at
	s.appendEvents(events)
	return true, nil
}

// RecoveryCodesLeft implements [session.FactorStore].
func (s *Store) RecoveryCodesLeft(_ context.Context, userID int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, used := range s.stepUp().recovery[userID] {
		if used.IsZero() {
			n++
		}
	}
	return n, nil
}

// purgeVerifications deletes verifications that expired before before;
// s.mu is held.
func (s *Store) purgeVerifications(before time.Time) {
	for h, v := range s.stepUp().verifications {
		if v.ExpiresAt.Before(before) {
			delete(s.step.verifications, h)
		}
	}
}

var (
	_ session.VerificationStore = (*Store)(nil)
	_ session.FactorStore       = (*Store)(nil)
)
