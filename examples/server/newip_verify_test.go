package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type verificationData struct {
	VerificationRequired bool     `json:"verification_required"`
	VerificationID       string   `json:"verification_id"`
	Methods              []string `json:"methods"`
	Token                string   `json:"token"`
}

// codeLine is the e-mailed code, alone and indented on its line in the
// text part.
var codeLine = regexp.MustCompile(`(?m)^ {4}(\d{6,10})\r?$`)

func TestServerNewIPVerify(t *testing.T) {
	mp := mailpitForServer(t)
	base, _ := newIPServer(t, "verify", mp, "")

	// The first login ever is not a new-IP login.
	code, env := janeLogin(t, base, "198.51.100.1")
	require.Equal(t, 200, code, env.Message)
	first := token(t, env)
	require.Empty(t, mp.Messages(t), "no mail for the first login")

	// From another address: 202, a verification and no session.
	code, env = janeLogin(t, base, "203.0.113.9")
	require.Equal(t, 202, code, env.Message)
	require.True(t, env.Success)
	var v verificationData
	require.NoError(t, json.Unmarshal(env.Data, &v))
	require.True(t, v.VerificationRequired)
	require.True(t, strings.HasPrefix(v.VerificationID, "ver_"), v.VerificationID)
	require.Equal(t, []string{"email"}, v.Methods, "Jane has no other factor")
	require.Empty(t, v.Token, "no credential before verification")
	code, _ = call(t, "GET", base+"/api/me", v.VerificationID, nil)
	require.Equal(t, 401, code, "a verification id is not a credential")

	// The code arrives by mail, through STARTTLS and AUTH.
	msgs := mp.WaitMessages(t, 1)
	require.Len(t, msgs, 1)
	msg := mp.Message(t, msgs[0].ID)
	require.Equal(t, janeEmail, msg.To[0].Address)
	require.Equal(t, "mailer", msg.Username)
	require.Contains(t, msg.Subject, "finish signing in")
	require.Contains(t, msg.Text, "203.0.113.9")
	require.Contains(t, msg.Text, testAgent)
	require.Contains(t, msg.HTML, "203.0.113.9")
	m := codeLine.FindStringSubmatch(msg.Text)
	require.NotNil(t, m, "no code in:\n%s", msg.Text)
	mailed := m[1]

	verify := func(ip, code string) (int, envelope) {
		return callWith(t, "POST", base+"/api/security/verify-login", "", from(ip),
			map[string]string{"verification_id": v.VerificationID, "code": code})
	}
	// A wrong code, and the right one from another client, are refused.
	wrong := "00000000"[:len(mailed)]
	if wrong == mailed {
		wrong = "11111111"[:len(mailed)]
	}
	status, env := verify("203.0.113.9", wrong)
	require.Equal(t, 401, status, env.Message)
	require.Equal(t, "verification_failed", env.Error)
	require.JSONEq(t, `{"attempts_left": 4}`, string(env.Data))
	status, env = verify("192.0.2.77", mailed)
	require.Equal(t, 401, status, "a code from another IP than the login's: %s", env.Message)
	require.Equal(t, "verification_failed", env.Error)

	// The right code completes the login: the answer the login would have
	// given.
	status, env = verify("203.0.113.9", mailed)
	require.Equal(t, 200, status, env.Message)
	second := token(t, env)
	status, _ = callWith(t, "GET", base+"/api/me", second, from("203.0.113.9"), nil)
	require.Equal(t, 200, status)

	// A used code is never accepted twice.
	status, env = verify("203.0.113.9", mailed)
	require.Equal(t, 401, status, env.Message)
	require.Equal(t, "verification_failed", env.Error)

	status, env = call(t, "GET", base+"/api/me", first, nil)
	require.Equal(t, 200, status, env.Message)
}
