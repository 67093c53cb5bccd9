// Package mailpittest runs Mailpit (github.com/axllent/mailpit), a real SMTP
// server that keeps what it receives, for tests, and reads what arrived
// through Mailpit's HTTP API.
//
// # The binary
//
// Mailpit is an installed tool, not an import: the library's go.mod does not
// require it. [Binary] looks for it in $PROPSEC_MAILPIT, then on $PATH,
// then in $(go env GOPATH)/bin. Install the pinned version with
//
//	go install github.com/axllent/mailpit@v1.33.1
//
// (the module zip lacks the web UI's built assets, but the SMTP server and
// the API, all that tests use, are complete). Without the binary [Start]
// skips the test, or fails it when $PROPSEC_TEST_MAILPIT_REQUIRED is 1, as
// .ci/run sets it.
//
// # Servers
//
// [Start] runs one Mailpit per call on loopback, on free ports, with its
// database in the test's temporary directory, and stops it at the test's
// cleanup. [Options] turn on STARTTLS or implicit TLS with a throwaway
// certificate (trusted by [Server.TLSConfig]), authentication, and a
// recipient filter.
package mailpittest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Mailpit release the tests and .ci/run pin.
const Version = "v1.33.1"

// InstallCommand installs [Version].
const InstallCommand = "go install github.com/axllent/mailpit@" + Version

// Binary returns the path of the mailpit binary: $PROPSEC_MAILPIT, else
// mailpit on $PATH, else $(go env GOPATH)/bin/mailpit (GOPATH defaulting to
// ~/go).
func Binary() (string, error) {
	if p := os.Getenv("PROPSEC_MAILPIT"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$PROPSEC_MAILPIT: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "mailpit")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("mailpit not found in $PROPSEC_MAILPIT, $PATH or $GOPATH/bin")
}

// Options configure one Mailpit.
type Options struct {
	// STARTTLS offers STARTTLS with a throwaway certificate for 127.0.0.1
	// and localhost; RequireSTARTTLS refuses mail without it.
	STARTTLS        bool
	RequireSTARTTLS bool
	// ImplicitTLS speaks TLS from the first byte (smtps) with that
	// certificate.
	ImplicitTLS bool
	// Users, when set, is the only accepted user:password pairs; Mailpit
	// then requires authentication (and TLS unless AllowInsecureAuth).
	Users map[string]string
	// AuthAcceptAny accepts any user and password.
	AuthAcceptAny bool
	// AllowInsecureAuth offers PLAIN and LOGIN without TLS.
	AllowInsecureAuth bool
	// AllowedRecipients, a regular expression, makes Mailpit refuse every
	// other recipient with a 5xx answer.
	AllowedRecipients string
}

// Server is one running Mailpit.
type Server struct {
	// SMTPAddr is its SMTP host:port on 127.0.0.1.
	SMTPAddr string
	// APIURL is the base of its HTTP API, http://127.0.0.1:port.
	APIURL string
	// CertPEM is the throwaway certificate (a self-signed CA) when TLS is
	// on.
	CertPEM []byte

	pool *x509.CertPool
}

// skip skips t, or fails it when $PROPSEC_TEST_MAILPIT_REQUIRED is 1,
// saying how to install Mailpit.
func skip(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("mailpit: %v; install it with `%s` (or set PROPSEC_MAILPIT)", err, InstallCommand)
	if os.Getenv("PROPSEC_TEST_MAILPIT_REQUIRED") == "1" {
		t.Fatal(msg + " [PROPSEC_TEST_MAILPIT_REQUIRED=1]")
	}
	t.Skip(msg)
}

// Start runs a Mailpit for t, stopped at t's cleanup. A missing binary
// skips t (see the package documentation).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		skip(t, err)
	}
	dir := t.TempDir()
	s := &Server{}
	args := []string{"--disable-version-check", "--smtp-disable-rdns", "--quiet",
		"--database", filepath.Join(dir, "mailpit.db")}
	if opts.STARTTLS || opts.RequireSTARTTLS || opts.ImplicitTLS {
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		s.CertPEM = writeCert(t, certFile, keyFile)
		s.pool = x509.NewCertPool()
		s.pool.AppendCertsFromPEM(s.CertPEM)
		args = append(args, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile)
	}
	if opts.RequireSTARTTLS {
		args = append(args, "--smtp-require-starttls")
	}
	if opts.ImplicitTLS {
		args = append(args, "--smtp-require-tls")
	}
	if len(opts.Users) > 0 {
		var b strings.Builder
		for u, p := range opts.Users {
			fmt.Fprintf(&b, "%s:%s\n", u, p)
		}
		f := filepath.Join(dir, "smtp-users")
		if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--smtp-auth-file", f)
	}
	if opts.AuthAcceptAny {
		args = append(args, "--smtp-auth-accept-any")
	}
	if opts.AllowInsecureAuth {
		args = append(args, "--smtp-auth-allow-insecure")
	}
	if opts.AllowedRecipients != "" {
		args = append(args, "--smtp-allowed-recipients", opts.AllowedRecipients)
	}

	// A free port can be taken between the probe and Mailpit's bind:
	// try again with new ports.
	var lastErr error
	for range 3 {
		smtpAddr, apiAddr := freeAddr(t), freeAddr(t)
		out := &syncBuffer{}
		cmd := exec.Command(bin, append(args, "--smtp", smtpAddr, "--listen", apiAddr)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("mailpit: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		s.SMTPAddr, s.APIURL = smtpAddr, "http://"+apiAddr
		if err := s.waitReady(exited); err != nil {
			_ = cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("%v; its output:\n%s", err, out.String())
			continue
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("mailpit output:\n%s", out.String())
			}
		})
		return s
	}
	t.Fatalf("mailpit did not start: %v", lastErr)
	return nil
}

func (s *Server) waitReady(exited <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("mailpit exited: %v", err)
		default:
		}
		if resp, err := http.Get(s.APIURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second); err == nil {
					c.Close()
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("mailpit not ready within 20s")
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, valid for a day, and returns its PEM.
func writeCert(t testing.TB, certFile, keyFile string) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mailpittest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

// TLSConfig trusts the server's throwaway certificate (and nothing else).
// It is nil when TLS is off.
func (s *Server) TLSConfig() *tls.Config {
	if s.pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
}

// Host and Port split SMTPAddr.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.SMTPAddr); return h }

// Port is SMTPAddr's port.
func (s *Server) Port() string { _, p, _ := net.SplitHostPort(s.SMTPAddr); return p }

// Address is an e-mail address as Mailpit's API shows it.
type Address struct {
	Name    string
	Address string
}

// Summary is one message in [Server.Messages].
type Summary struct {
	ID        string
	MessageID string
	From      Address
	To        []Address
	Subject   string
	Created   time.Time
	Snippet   string
}

// Message is one message in full ([Server.Message]).
type Message struct {
	ID        string
	MessageID string
	From      Address
	To        []Address
	Subject   string
	Date      time.Time
	// Username is who authenticated to send it ("" without AUTH).
	Username string
	Text     string
	HTML     string
}

// Messages lists what arrived, newest first.
func (s *Server) Messages(t testing.TB) []Summary {
	t.Helper()
	var out struct {
		Messages []Summary `json:"messages"`
	}
	s.getJSON(t, "/api/v1/messages?limit=1000", &out)
	return out.Messages
}

// WaitMessages polls until at least n messages arrived (or 10 s passed,
// failing t) and returns them, newest first.
func (s *Server) WaitMessages(t testing.TB, n int) []Summary {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs := s.Messages(t)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit: %d message(s) arrived, want %d", len(msgs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Search lists the messages matching a Mailpit search ("to:a@example.com",
// "subject:code").
func (s *Server) Search(t testing.TB, query string) []Summary {
	t.Helper()
	var out struct {
		Messages []Summary `json:"messages"`
	}
	s.getJSON(t, "/api/v1/search?query="+url.QueryEscape(query), &out)
	return out.Messages
}

// Message reads one message: its text and HTML parts and main headers.
func (s *Server) Message(t testing.TB, id string) Message {
	t.Helper()
	var m Message
	s.getJSON(t, "/api/v1/message/"+url.PathEscape(id), &m)
	return m
}

// Headers reads one message's headers.
func (s *Server) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	h := map[string][]string{}
	s.getJSON(t, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h)
	return h
}

// Raw reads one message as it was received.
func (s *Server) Raw(t testing.TB, id string) string {
	t.Helper()
	return string(s.get(t, "/api/v1/message/"+url.PathEscape(id)+"/raw"))
}

// DeleteAll deletes every message.
func (s *Server) DeleteAll(t testing.TB) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, s.APIURL+"/api/v1/messages", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mailpit API: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit API: DELETE messages: %s", resp.Status)
	}
}

func (s *Server) get(t testing.TB, path string) []byte {
	t.Helper()
	resp, err := http.Get(s.APIURL + path)
	if err != nil {
		t.Fatalf("mailpit API: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		t.Fatalf("mailpit API %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit API %s: %s: %s", path, resp.Status, body)
	}
	return body
}

func (s *Server) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(s.get(t, path), v); err != nil {
		t.Fatalf("mailpit API %s: %v", path, err)
	}
}

// syncBuffer collects Mailpit's output from its pipe goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
