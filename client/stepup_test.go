package client_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/propops/propsec/client"
	"github.com/propops/propsec/session"
)

// TestTOTPAndVerification enrols TOTP through the client, on the SQLite
// server, then logs in both ways through the verification.
func TestTOTPAndVerification(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, false)
	c := s.bearerClient(t, customerID)
	st, err := c.MFAStatus(ctx)
	if err != nil || len(st.Methods) != 0 || st.Restricted {
		t.Fatalf("MFAStatus: %+v, %v", st, err)
	}
	en, err := c.EnrollTOTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if png, err := base64.StdEncoding.DecodeString(en.QRPNG); err != nil || string(png[1:4]) != "PNG" {
		t.Fatalf("QR code: %v", err)
	}
	code := func() string {
		c, err := session.TOTPCode(en.Secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	_, err = c.ConfirmTOTP(ctx, "12345")
	refused(t, err, 400, client.CodeInvalidRequest)
	codes, err := c.ConfirmTOTP(ctx, code())
	if err != nil || len(codes) != 10 {
		t.Fatalf("ConfirmTOTP: %v, %v", codes, err)
	}

	// A token login now waits for a code: a recovery code completes it.
	m := s.client(t, nil)
	tok, err := m.IssueToken(ctx, email(customerID), password(customerID))
	if err != nil || tok.Token != "" || tok.Verification == nil || tok.Verification.Methods[0] != "totp" {
		t.Fatalf("IssueToken: %+v, %v", tok, err)
	}
	_, err = m.VerifyToken(ctx, tok.Verification.VerificationID, "aaaa-aaaa-aaaa")
	if e := refused(t, err, 401, client.CodeVerificationFailed); e.AttemptsLeft != 4 {
		t.Fatalf("attempts left %d", e.AttemptsLeft)
	}
	if tok, err = m.VerifyToken(ctx, tok.Verification.VerificationID, codes[0]); err != nil || tok.Token == "" {
		t.Fatalf("VerifyToken: %+v, %v", tok, err)
	}
	if _, err := m.CSRFToken(ctx); err != nil {
		t.Fatal(err)
	}

	// A cookie login, completed with a recovery code too (the TOTP code
	// of this step was used by the confirmation).
	w := s.client(t, nil)
	p, err := w.Login(ctx, email(customerID), password(customerID))
	if err != nil || p.Verification == nil || p.UserID != 0 {
		t.Fatalf("Login: %+v, %v", p, err)
	}
	if p, err = w.VerifyLogin(ctx, p.Verification.VerificationID, codes[1]); err != nil || p.UserID != customerID {
		t.Fatalf("VerifyLogin: %+v, %v", p, err)
	}
	fresh, err := w.RegenerateRecoveryCodes(ctx, password(customerID), "")
	if err != nil || len(fresh) != 10 {
		t.Fatalf("RegenerateRecoveryCodes: %v", err)
	}
	err = w.RemoveSecondFactor(ctx, "", codes[2])
	refused(t, err, 400, client.CodeInvalidRequest)
	if err := w.RemoveSecondFactor(ctx, "", fresh[0]); err != nil {
		t.Fatal(err)
	}
	if p, err := s.client(t, nil).Login(ctx, email(customerID), password(customerID)); err != nil || p.Verification != nil {
		t.Fatalf("Login after removal: %+v, %v", p, err)
	}
}
