package smtpmail_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/internal/mailpittest"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/smtpmail"
)

var (
	alice = security.Principal{UserID: 7, Name: "Alice Example", Email: "alice@example.com"}
	at    = time.Date(2026, 12, 6, 18, 40, 0, 0, time.UTC)
)

const hostileUA = `Mozilla/5.0 <script>alert("x")</script><img src=x onerror=alert(1)>` + "\r\nBcc: evil@example.net"

func newIPNotice() session.NewIPNotice {
	return session.NewIPNotice{User: alice, SessionID: "sess_x", IP: "203.0.113.7",
		Location: "Berlin, DE", UserAgent: "Firefox/140 on Linux", Time: at}
}

func codeNotice() session.LoginCodeNotice {
	return session.LoginCodeNotice{User: alice, Code: "493817", Expires: at.Add(10 * time.Minute),
		IP: "203.0.113.7", Location: "Berlin, DE", UserAgent: "Firefox/140 on Linux", Time: at}
}

// newMailer returns a Mailer for srv's SMTP address with scheme and user
// info, trusting srv's certificate, and the buffer its logger writes.
func newMailer(t *testing.T, srv *mailpittest.Server, scheme string, user *url.Userinfo, edit func(*smtpmail.Config)) (*smtpmail.Mailer, *bytes.Buffer) {
	t.Helper()
	return newMailerEdit(t, srv, scheme, user, edit)
}

func newMailerTB(tb testing.TB, srv *mailpittest.Server, scheme string, user *url.Userinfo) (*smtpmail.Mailer, *bytes.Buffer) {
	tb.Helper()
	return newMailerEdit(tb, srv, scheme, user, nil)
}

func newMailerEdit(t testing.TB, srv *mailpittest.Server, scheme string, user *url.Userinfo, edit func(*smtpmail.Config)) (*smtpmail.Mailer, *bytes.Buffer) {
	t.Helper()
	u := url.URL{Scheme: scheme, Host: srv.SMTPAddr, User: user}
	logs := &bytes.Buffer{}
	cfg := smtpmail.Config{
		URL: u.String(), From: "Example Security <security@example.com>", AppName: "Example Shop",
		ReportURL: "https://example.com/report?kind=login", TLSConfig: srv.TLSConfig(),
		DialTimeout: 5 * time.Second, SendTimeout: 20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := smtpmail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func one(t *testing.T, srv *mailpittest.Server) mailpittest.Message {
	t.Helper()
	msgs := srv.WaitMessages(t, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(msgs))
	}
	return srv.Message(t, msgs[0].ID)
}

func TestNewIPLoginMessage(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{})
	m, logs := newMailer(t, srv, "smtp", nil, nil)
	n := newIPNotice()
	n.UserAgent = hostileUA
	if err := m.NewIPLogin(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	msg := one(t, srv)
	if msg.Subject != "New sign-in to Example Shop from Berlin, DE" {
		t.Errorf("subject %q", msg.Subject)
	}
	if msg.From.Address != "security@example.com" || msg.From.Name != "Example Security" {
		t.Errorf("from %+v", msg.From)
	}
	if len(msg.To) != 1 || msg.To[0].Address != "alice@example.com" || msg.To[0].Name != "Alice Example" {
		t.Errorf("to %+v", msg.To)
	}
	for _, part := range []struct{ name, body string }{{"text", msg.Text}, {"html", msg.HTML}} {
		for _, want := range []string{"Sun, 06 Dec 2026 18:40:00 UTC", "Berlin, DE", "203.0.113.7",
			"Mozilla/5.0", "change your password", "https://example.com/report?kind=login"} {
			if part.name == "html" {
				want = strings.ReplaceAll(want, "&", "&amp;")
			}
			if !strings.Contains(part.body, want) {
				t.Errorf("%s part lacks %q:\n%s", part.name, want, part.body)
			}
		}
	}
	// The hostile user agent is escaped in HTML and cannot add a header.
	for _, bad := range []string{"<script>", "<img", "onerror=alert(1)>"} {
		if strings.Contains(msg.HTML, bad) {
			t.Errorf("HTML part holds %q unescaped:\n%s", bad, msg.HTML)
		}
	}
	if !strings.Contains(msg.HTML, "&lt;script&gt;") {
		t.Errorf("HTML part lacks the escaped user agent:\n%s", msg.HTML)
	}
	h := srv.Headers(t, msg.ID)
	if len(h["Bcc"]) != 0 {
		t.Errorf("the user agent added a header: %v", h["Bcc"])
	}
	if got := h["Auto-Submitted"]; len(got) != 1 || got[0] != "auto-generated" {
		t.Errorf("Auto-Submitted %v", got)
	}
	if got := h["Message-Id"]; len(got) != 1 || !strings.HasSuffix(got[0], "@example.com>") {
		t.Errorf("Message-Id %v", got)
	}
	if !strings.Contains(srv.Raw(t, msg.ID), "multipart/alternative") {
		t.Error("not multipart/alternative")
	}
	if !strings.Contains(logs.String(), "kind=new_ip_notice") {
		t.Errorf("no log line: %s", logs)
	}
}

func TestLoginCodeMessage(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{})
	m, logs := newMailer(t, srv, "smtp", nil, func(c *smtpmail.Config) {
		c.ReportURL, c.ReportText = "", "Reply to this message."
	})
	c := codeNotice()
	c.UserAgent = strings.Repeat("A", 5000) + "TAIL"
	if err := m.LoginCode(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	msg := one(t, srv)
	if msg.Subject != "Your code to finish signing in to Example Shop" {
		t.Errorf("subject %q", msg.Subject)
	}
	if strings.Contains(msg.Subject, "493817") {
		t.Error("the code is in the subject")
	}
	for _, part := range []struct{ name, body string }{{"text", msg.Text}, {"html", msg.HTML}} {
		for _, want := range []string{"493817", "Berlin, DE", "203.0.113.7", "Sun, 06 Dec 2026 18:40:00 UTC",
			"expires at Sun, 06 Dec 2026 18:50:00 UTC (in 10 minutes)", "change your password", "Reply to this message."} {
			if !strings.Contains(part.body, want) {
				t.Errorf("%s part lacks %q:\n%s", part.name, want, part.body)
			}
		}
		if strings.Contains(part.body, "TAIL") || strings.Contains(part.body, strings.Repeat("A", smtpmail.MaxUserAgent+1)) {
			t.Errorf("%s part holds the user agent uncut", part.name)
		}
	}
	if strings.Contains(logs.String(), "493817") {
		t.Errorf("the code was logged: %s", logs)
	}
	if !strings.Contains(logs.String(), "kind=login_code") {
		t.Errorf("no log line: %s", logs)
	}
}

func TestSTARTTLSWithAuth(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{STARTTLS: true, Users: map[string]string{"mailer": "s3cret/pw@x"}})
	m, logs := newMailer(t, srv, "smtp", url.UserPassword("mailer", "s3cret/pw@x"), nil)
	if err := m.LoginCode(context.Background(), codeNotice()); err != nil {
		t.Fatal(err)
	}
	if msg := one(t, srv); msg.Username != "mailer" {
		t.Errorf("authenticated as %q", msg.Username)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("the password was logged: %s", logs)
	}
	if s := m.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "STARTTLS required") {
		t.Errorf("String() = %q", s)
	}

	t.Run("wrong password", func(t *testing.T) {
		m, _ := newMailer(t, srv, "smtp", url.UserPassword("mailer", "wrong"), nil)
		err := m.LoginCode(context.Background(), codeNotice())
		if err == nil || errors.Is(err, security.ErrUnavailable) {
			t.Fatalf("err = %v, want a plain error", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		m, _ := newMailer(t, srv, "smtp", url.UserPassword("mailer", "s3cret/pw@x"), func(c *smtpmail.Config) { c.TLSConfig = nil })
		err := m.LoginCode(context.Background(), codeNotice())
		if !errors.Is(err, security.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

func TestImplicitTLS(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{ImplicitTLS: true, Users: map[string]string{"mailer": "pw"}})
	m, _ := newMailer(t, srv, "smtps", url.UserPassword("mailer", "pw"), nil)
	if err := m.NewIPLogin(context.Background(), newIPNotice()); err != nil {
		t.Fatal(err)
	}
	if msg := one(t, srv); msg.Username != "mailer" {
		t.Errorf("authenticated as %q", msg.Username)
	}
	t.Run("plain smtp to a TLS port", func(t *testing.T) {
		m, _ := newMailer(t, srv, "smtp", nil, func(c *smtpmail.Config) { c.SendTimeout = 3 * time.Second })
		if err := m.NewIPLogin(context.Background(), newIPNotice()); !errors.Is(err, security.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

// A server without STARTTLS that would take a password in clear: the
// Mailer refuses to send it unless told to, insecurely.
func TestCleartextAuthRefused(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{AuthAcceptAny: true, AllowInsecureAuth: true})
	m, logs := newMailer(t, srv, "smtp", url.UserPassword("mailer", "pw"), nil)
	err := m.LoginCode(context.Background(), codeNotice())
	if !errors.Is(err, security.ErrUnavailable) || !strings.Contains(err.Error(), "in clear") {
		t.Fatalf("err = %v, want ErrUnavailable refusing cleartext credentials", err)
	}
	if strings.Contains(err.Error(), "pw@") || strings.Contains(logs.String(), "pw@") {
		t.Error("the password leaked")
	}
	if n := len(srv.Messages(t)); n != 0 {
		t.Fatalf("%d messages arrived", n)
	}

	insecure, _ := newMailer(t, srv, "smtp", url.UserPassword("mailer", "pw"), func(c *smtpmail.Config) {
		c.InsecureAllowCleartextAuth = true
	})
	if err := insecure.LoginCode(context.Background(), codeNotice()); err != nil {
		t.Fatalf("with InsecureAllowCleartextAuth: %v", err)
	}
	if msg := one(t, srv); msg.Username != "mailer" {
		t.Errorf("authenticated as %q", msg.Username)
	}
}

func TestRejectedRecipient(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{AllowedRecipients: `@example\.org$`})
	m, _ := newMailer(t, srv, "smtp", nil, nil)
	err := m.LoginCode(context.Background(), codeNotice())
	if err == nil || errors.Is(err, security.ErrUnavailable) {
		t.Fatalf("err = %v, want a plain error", err)
	}
}

func TestServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	m, err := smtpmail.New(smtpmail.Config{URL: "smtp://" + addr, From: "security@example.com",
		DialTimeout: 2 * time.Second, SendTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = m.LoginCode(context.Background(), codeNotice())
	if !errors.Is(err, security.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// A server that accepts the connection and never says a word: the send
// gives up at SendTimeout.
func TestHungServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	for _, scheme := range []string{"smtp", "smtps"} {
		t.Run(scheme, func(t *testing.T) {
			m, err := smtpmail.New(smtpmail.Config{URL: scheme + "://" + l.Addr().String(), From: "security@example.com",
				SendTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			err = m.LoginCode(context.Background(), codeNotice())
			if !errors.Is(err, security.ErrUnavailable) || !(strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "gave up")) {
				t.Fatalf("err = %v, want ErrUnavailable after the send timeout", err)
			}
		})
	}
	t.Run("caller's context", func(t *testing.T) {
		// An hour's send timeout: only the caller's cancellation ends it.
		m, err := smtpmail.New(smtpmail.Config{URL: "smtp://" + l.Addr().String(), From: "security@example.com",
			SendTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		err = m.LoginCode(ctx, codeNotice())
		if !errors.Is(err, security.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want ErrUnavailable and context.Canceled", err)
		}
	})
}

func TestConcurrentSends(t *testing.T) {
	srv := mailpittest.Start(t, mailpittest.Options{STARTTLS: true, Users: map[string]string{"mailer": "pw"}})
	m, _ := newMailer(t, srv, "smtp", url.UserPassword("mailer", "pw"), nil)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c := codeNotice()
			c.User.Email = fmt.Sprintf("user%d@example.com", i)
			c.Code = fmt.Sprintf("%06d", i)
			errs <- m.LoginCode(context.Background(), c)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	msgs := srv.WaitMessages(t, n)
	seen := map[string]bool{}
	for _, s := range msgs {
		msg := srv.Message(t, s.ID)
		var i int
		if _, err := fmt.Sscanf(msg.To[0].Address, "user%d@example.com", &i); err != nil {
			t.Fatal(err)
		}
		if code := fmt.Sprintf("%06d", i); !strings.Contains(msg.Text, code) {
			t.Errorf("message to %s lacks its code %s", msg.To[0].Address, code)
		}
		seen[msg.To[0].Address] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct recipients, want %d", len(seen), n)
	}
}

// A dial that fails after connecting (here: credentials and a server
// without STARTTLS) closes its connection at once instead of leaving it
// open until the server gives up.
func TestFailedDialClosesConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	closed := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			closed <- err
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		fmt.Fprint(c, "220 fake ESMTP\r\n")
		for {
			// Long enough never to fire on a slow machine; the test fails
			// if the client leaves the connection open.
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			line, err := r.ReadString('\n')
			if err != nil {
				closed <- err
				return
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"):
				fmt.Fprint(c, "250-fake\r\n250 AUTH PLAIN\r\n")
			case cmd == "QUIT":
				fmt.Fprint(c, "221 bye\r\n")
			default:
				fmt.Fprint(c, "502 no\r\n")
			}
		}
	}()
	m, err := smtpmail.New(smtpmail.Config{URL: "smtp://mailer:pw@" + l.Addr().String(), From: "security@example.com",
		SendTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoginCode(context.Background(), codeNotice()); !errors.Is(err, security.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if err := <-closed; !errors.Is(err, io.EOF) {
		t.Fatalf("the server's read ended with %v, want EOF (the client closed the connection)", err)
	}
}
