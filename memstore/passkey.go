package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
)

// passkeyState is the part of a Store that implements [passkey.Store],
// guarded by Store.mu.
type passkeyState struct {
	creds      []passkey.Credential // in the order they were added
	ceremonies map[string]passkey.Ceremony
}

var _ passkey.Store = (*Store)(nil)

func clonePasskey(c passkey.Credential) passkey.Credential {
	c.ID, c.PublicKey, c.Attestation = bytes.Clone(c.ID), bytes.Clone(c.PublicKey), bytes.Clone(c.Attestation)
	c.AAGUID, c.Transports = bytes.Clone(c.AAGUID), slices.Clone(c.Transports)
	return c
}

// CreateCeremony implements [passkey.Store].
func (s *Store) CreateCeremony(_ context.Context, c passkey.Ceremony) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.passkeys
	if st.ceremonies == nil {
		st.ceremonies = map[string]passkey.Ceremony{}
	}
	if _, ok := st.ceremonies[c.ID]; ok {
		return fmt.Errorf("ceremony %s: %w", c.ID, security.ErrConflict)
	}
	c.Data = bytes.Clone(c.Data)
	st.ceremonies[c.ID] = c
	return nil
}

// TakeCeremony implements [passkey.Store].
func (s *Store) TakeCeremony(_ context.Context, id string) (passkey.Ceremony, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.passkeys.ceremonies[id]
	if !ok {
		return passkey.Ceremony{}, notFound("ceremony")
	}
	delete(s.passkeys.ceremonies, id)
	return c, nil
}

// PurgeCeremonies implements [passkey.Store].
func (s *Store) PurgeCeremonies(_ context.Context, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.passkeys.ceremonies {
		if c.ExpiresAt.Before(before) {
			delete(s.passkeys.ceremonies, id)
		}
	}
	return nil
}

// AddCredential implements [passkey.Store].
func (s *Store) AddCredential(_ context.Context, c passkey.Credential, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.passkeyIndex(0, c.ID) >= 0 {
		return fmt.Errorf("passkey: %w", security.ErrConflict)
	}
	s.passkeys.creds = append(s.passkeys.creds, clonePasskey(c))
	s.appendEvents(events)
	return nil
}

// passkeyIndex finds credential id (of userID, unless userID is 0); -1 if
// none. s.mu must be held.
func (s *Store) passkeyIndex(userID int64, id []byte) int {
	return slices.IndexFunc(s.passkeys.creds, func(c passkey.Credential) bool {
		return bytes.Equal(c.ID, id) && (userID == 0 || c.UserID == userID)
	})
}

// Credentials implements [passkey.Store].
func (s *Store) Credentials(_ context.Context, userID int64) ([]passkey.Credential, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []passkey.Credential
	for _, c := range s.passkeys.creds {
		if c.UserID == userID {
			out = append(out, clonePasskey(c))
		}
	}
	return out, nil
}

// CountCredentials implements [passkey.Store].
func (s *Store) CountCredentials(_ context.Context, userID int64) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, c := range s.passkeys.creds {
		if c.UserID == userID {
			n++
		}
	}
	return n, nil
}

// UseCredential implements [passkey.Store].
func (s *Store) UseCredential(_ context.Context, u passkey.Use, events []security.Event) (passkey.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.passkeyIndex(u.UserID, u.ID)
	if i < 0 {
		return passkey.Credential{}, notFound("passkey")
	}
	c := &s.passkeys.creds[i]
	if passkey.Refused(*c, u.SignCount) {
		c.CloneWarning = true
		return passkey.Credential{}, passkey.ErrCloned
	}
	c.SignCount, c.UserVerified, c.BackupState, c.LastUsedAt = u.SignCount, c.UserVerified || u.UserVerified, u.BackupState, u.At
	s.appendEvents(events)
	return clonePasskey(*c), nil
}

// RemoveCredential implements [passkey.Store].
func (s *Store) RemoveCredential(_ context.Context, userID int64, id []byte, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.passkeyIndex(userID, id)
	if i < 0 {
		return notFound("passkey")
	}
	s.passkeys.creds = slices.Delete(s.passkeys.creds, i, i+1)
	s.appendEvents(events)
	return nil
}
