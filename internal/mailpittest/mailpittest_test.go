package mailpittest_test

import (
	"net/smtp"
	"path/filepath"
	"strings"
	"testing"

	"github.com/propops/propsec/internal/mailpittest"
)

func TestBinaryFromEnvironment(t *testing.T) {
	t.Setenv("PROPSEC_MAILPIT", filepath.Join(t.TempDir(), "no-mailpit"))
	if _, err := mailpittest.Binary(); err == nil || !strings.Contains(err.Error(), "PROPSEC_MAILPIT") {
		t.Fatalf("err = %v, want one naming $PROPSEC_MAILPIT", err)
	}
}

// A message sent with the standard library arrives, and the API reads it.
func TestStartAndRead(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{})
	body := "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\nX-Test: 1\r\n\r\nbody text\r\n"
	if err := smtp.SendMail(srv.SMTPAddr, nil, "a@example.com", []string{"b@example.com"}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	msgs := srv.WaitMessages(t, 1)
	m := srv.Message(t, msgs[0].ID)
	if m.Subject != "hello" || m.From.Address != "a@example.com" || len(m.To) != 1 ||
		m.To[0].Address != "b@example.com" || !strings.Contains(m.Text, "body text") {
		t.Fatalf("message %+v", m)
	}
	if h := srv.Headers(t, m.ID); len(h["X-Test"]) != 1 {
		t.Fatalf("headers %v", h)
	}
	if got := srv.Search(t, "subject:hello"); len(got) != 1 {
		t.Fatalf("search found %d", len(got))
	}
	srv.DeleteAll(t)
	if n := len(srv.Messages(t)); n != 0 {
		t.Fatalf("%d messages after DeleteAll", n)
	}
}
