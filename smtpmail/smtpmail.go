package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Defaults of [Config].
const (
	// DefaultDialTimeout bounds the TCP connection to the server.
	DefaultDialTimeout = 10 * time.Second
	// DefaultSendTimeout bounds one whole message: connection, TLS,
	// authentication and transfer.
	DefaultSendTimeout = 30 * time.Second
	// DefaultAppName names the service when [Config.AppName] is empty.
	DefaultAppName = "your account"
)

// Config says how a [Mailer] reaches its server and what its messages say.
// Zero fields take the documented defaults; URL and From are required.
type Config struct {
	// URL is the mail server: smtp://[user:password@]host[:port] (port 587
	// by default; STARTTLS required when there are credentials, used when
	// offered otherwise) or smtps://[user:password@]host[:port] (implicit
	// TLS, port 465 by default). No path or query is accepted.
	URL string
	// From is the sender, "Name <address>" or a bare address.
	From string
	// AppName names the service in subjects and text ("Example Shop"):
	// "New sign-in to Example Shop". Default [DefaultAppName].
	AppName string
	// ReportURL is an http(s) page where a user reports a login that was
	// not theirs; it is linked from every message.
	ReportURL string
	// ReportText tells the user how to report a login that was not theirs
	// when there is no page ("Reply to this message."). With ReportURL
	// too, it is shown beside the link.
	ReportText string
	// TLSConfig verifies the server (RootCAs for a private or test CA,
	// MinVersion) or presents a client certificate. It is cloned; its
	// ServerName defaults to the URL's host. Nil means the system roots.
	TLSConfig *tls.Config
	// InsecureAllowCleartextAuth lets smtp:// send the URL's credentials
	// over an unencrypted connection when the server offers no STARTTLS.
	// Anyone on the path then reads the password. Only for a relay on the
	// same host or a test server.
	InsecureAllowCleartextAuth bool
	// DialTimeout bounds the TCP connection; default [DefaultDialTimeout].
	DialTimeout time.Duration
	// SendTimeout bounds one message from dial to the server's answer,
	// within the caller's context; default [DefaultSendTimeout].
	SendTimeout time.Duration
	// HELO is the name given in EHLO; default "localhost".
	HELO string
	// Logger receives a line per message sent or failed; nil discards.
	Logger *slog.Logger
}

// Mailer sends the messages of [session.Mailer] over SMTP. It is safe for
// concurrent use; each message uses a connection of its own.
type Mailer struct {
	host, port  string
	implicitTLS bool
	user, pass  string
	hasAuth     bool
	cleartext   bool
	tlsConfig   *tls.Config
	from        *mail.Address
	msgIDDomain string
	appName     string
	reportURL   string
	reportText  string
	dialTimeout time.Duration
	sendTimeout time.Duration
	helo        string
	log         *slog.Logger
}

var _ session.Mailer = (*Mailer)(nil)

// New checks cfg and returns a Mailer. It does not connect: a server that
// is down shows at the first message.
func New(cfg Config) (*Mailer, error) {
	m := &Mailer{
		appName:     cfg.AppName,
		reportText:  cfg.ReportText,
		dialTimeout: cfg.DialTimeout,
		sendTimeout: cfg.SendTimeout,
		helo:        cfg.HELO,
		log:         cfg.Logger,
		cleartext:   cfg.InsecureAllowCleartextAuth,
	}
	if m.dialTimeout <= 0 {
		m.dialTimeout = DefaultDialTimeout
	}
	if m.sendTimeout <= 0 {
		m.sendTimeout = DefaultSendTimeout
	}
	if m.helo == "" {
		m.helo = "localhost"
	}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if m.appName == "" {
		m.appName = DefaultAppName
	}
	if err := m.parseURL(cfg.URL); err != nil {
		return nil, err
	}
	if cfg.From == "" {
		return nil, errors.New("smtpmail: Config.From is required")
	}
	if hasControl(cfg.From) {
		return nil, errors.New("smtpmail: Config.From holds a control character")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtpmail: Config.From: %w", err)
	}
	m.from = from
	m.msgIDDomain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	if cfg.ReportURL != "" {
		u, err := url.Parse(cfg.ReportURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || hasControl(cfg.ReportURL) {
			return nil, errors.New("smtpmail: Config.ReportURL must be an http or https URL")
		}
		m.reportURL = u.String()
	}
	for name, v := range map[string]string{"AppName": m.appName, "ReportText": m.reportText, "HELO": m.helo} {
		if hasControl(v) {
			return nil, fmt.Errorf("smtpmail: Config.%s holds a control character", name)
		}
	}
	if cfg.TLSConfig != nil {
		m.tlsConfig = cfg.TLSConfig.Clone()
	} else {
		m.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if m.tlsConfig.ServerName == "" {
		m.tlsConfig.ServerName = m.host
	}
	return m, nil
}

func (m *Mailer) parseURL(raw string) error {
	if raw == "" {
		return errors.New("smtpmail: Config.URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors repeat the URL, password included.
		return errors.New("smtpmail: Config.URL is not a URL")
	}
	switch u.Scheme {
	case "smtp":
		m.port = "587"
	case "smtps":
		m.port, m.implicitTLS = "465", true
	default:
		return errors.New("smtpmail: Config.URL must start smtp:// or smtps://")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return errors.New("smtpmail: Config.URL takes no path, query or fragment")
	}
	m.host = u.Hostname()
	if m.host == "" {
		return errors.New("smtpmail: Config.URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("smtpmail: Config.URL has an invalid port")
		}
		m.port = p
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
		if m.user == "" || m.pass == "" {
			return errors.New("smtpmail: Config.URL needs both a user and a password, or neither")
		}
		m.hasAuth = true
	}
	return nil
}

// String describes the server without the password:
// "smtp://user@mail.example.com:587 (STARTTLS required)".
func (m *Mailer) String() string {
	scheme, mode := "smtp", "STARTTLS when offered"
	switch {
	case m.implicitTLS:
		scheme, mode = "smtps", "implicit TLS"
	case m.hasAuth && m.cleartext:
		mode = "STARTTLS when offered; INSECURE: credentials may be sent in clear"
	case m.hasAuth:
		mode = "STARTTLS required"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(m.host, m.port)}
	if m.hasAuth {
		u.User = url.User(m.user)
	}
	return u.String() + " (" + mode + ")"
}

// NewIPLogin e-mails n.User that their account was signed in to from a
// new address. It implements [session.Mailer].
func (m *Mailer) NewIPLogin(ctx context.Context, n session.NewIPNotice) error {
	msg, err := m.message(n.User, newIPContent(m, n))
	if err != nil {
		return err
	}
	return m.send(ctx, "new_ip_notice", n.User.UserID, msg)
}

// LoginCode e-mails c.User the one-time code that completes a login from a
// new address. It implements [session.Mailer]; the code is never logged.
func (m *Mailer) LoginCode(ctx context.Context, c session.LoginCodeNotice) error {
	if c.Code == "" || hasControl(c.Code) || len(c.Code) > 64 {
		return errors.New("smtpmail: the login code is empty, too long or holds a control character")
	}
	msg, err := m.message(c.User, loginCodeContent(m, c))
	if err != nil {
		return err
	}
	return m.send(ctx, "login_code", c.User.UserID, msg)
}

// message builds the headers and both parts of one message to user.
func (m *Mailer) message(user security.Principal, c content) (*gomail.Msg, error) {
	if user.Email == "" {
		return nil, fmt.Errorf("smtpmail: user %d has no email address", user.UserID)
	}
	if hasControl(user.Email) || hasControl(user.Name) {
		return nil, fmt.Errorf("smtpmail: user %d's name or email holds a line break or another control character", user.UserID)
	}
	to, err := mail.ParseAddress(user.Email)
	if err != nil || to.Name != "" {
		return nil, fmt.Errorf("smtpmail: user %d's email is not an address", user.UserID)
	}
	to.Name = cut(user.Name, maxName)
	text, html, err := c.render()
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(m.from)
	msg.AddToMailAddress(to)
	msg.Subject(c.subject)
	msg.SetDate()
	// Not go-mail's SetMessageID, which would name this machine.
	msg.SetMessageIDWithValue(security.NewID("") + "@" + m.msgIDDomain)
	// RFC 3834: no vacation auto-replies to a notification.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	return msg, nil
}

// send delivers msg on a connection of its own, within SendTimeout.
func (m *Mailer) send(ctx context.Context, kind string, userID int64, msg *gomail.Msg) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, m.sendTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	var closeOnCancel func() bool
	// opened is closed when send returns, whatever happened: go-mail
	// closes it on success and on most failures, but not (before v0.8.2)
	// when a step of its dial after connecting fails, such as STARTTLS or
	// authentication. A second Close does nothing.
	var opened net.Conn
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: m.dialTimeout}
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		opened = raw
		// A cancelled caller or the send deadline ends the connection
		// whatever go-mail is waiting for.
		closeOnCancel = context.AfterFunc(ctx, func() { _ = raw.Close() })
		c := &deadlineConn{Conn: raw, max: deadline}
		if err := c.SetDeadline(deadline); err != nil {
			_ = raw.Close()
			return nil, err
		}
		if !m.implicitTLS {
			return c, nil
		}
		tc := tls.Client(c, m.tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return tc, nil
	}

	opts := []gomail.Option{
		gomail.WithPort(mustPort(m.port)),
		gomail.WithTimeout(m.sendTimeout),
		gomail.WithHELO(m.helo),
		gomail.WithTLSConfig(m.tlsConfig),
		gomail.WithDialContextFunc(dial),
	}
	switch {
	case m.implicitTLS:
		// The dial function does the TLS handshake itself.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case m.hasAuth && !m.cleartext:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if m.hasAuth {
		mechs := []gomail.SMTPAuthType{gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
			gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
		if m.cleartext {
			mechs = append(mechs, gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc)
		}
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(mechs...),
			gomail.WithUsername(m.user), gomail.WithPassword(m.pass))
	}
	client, err := gomail.NewClient(m.host, opts...)
	if err != nil {
		return m.fail(kind, userID, start, fmt.Errorf("smtpmail: %w", err))
	}
	defer func() {
		if closeOnCancel != nil {
			closeOnCancel()
		}
		if opened != nil {
			_ = opened.Close()
		}
	}()

	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return m.fail(kind, userID, start, m.classify(ctx, "connect to", err, dialPhase))
	}
	if err := client.SendWithSMTPClient(sc, msg); err != nil {
		_ = client.CloseWithSMTPClient(sc)
		return m.fail(kind, userID, start, m.classify(ctx, "send through", err, sendPhase))
	}
	if err := client.CloseWithSMTPClient(sc); err != nil {
		// The server accepted the message; a failed QUIT loses nothing.
		m.log.Warn("smtpmail: QUIT failed after the message was accepted", "kind", kind,
			"user_id", userID, "server", m.host, "error", err.Error())
	}
	m.log.Info("smtpmail: sent", "kind", kind, "user_id", userID, "server", m.host,
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (m *Mailer) fail(kind string, userID int64, start time.Time, err error) error {
	m.log.Warn("smtpmail: not sent", "kind", kind, "user_id", userID, "server", m.host,
		"duration", time.Since(start).Round(time.Millisecond), "unavailable", errors.Is(err, security.ErrUnavailable),
		"error", err.Error())
	return err
}

const (
	dialPhase = iota
	sendPhase
)

// classify wraps err in security.ErrUnavailable unless the server gave a
// permanent (5xx) answer: refused recipient, sender or credentials.
func (m *Mailer) classify(ctx context.Context, verb string, err error, phase int) error {
	server := net.JoinHostPort(m.host, m.port)
	if ctx.Err() != nil {
		// Cancelled by the caller or past the send deadline: err is then
		// whatever the closed connection said.
		return fmt.Errorf("smtpmail: %s %s: gave up (send timeout %v): %w: %w (%v)",
			verb, server, m.sendTimeout, security.ErrUnavailable, ctx.Err(), err)
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("smtpmail: %s %s: timed out (dial timeout %v, send timeout %v): %w: %w",
			verb, server, m.dialTimeout, m.sendTimeout, security.ErrUnavailable, err)
	}
	code := 0
	var pe *textproto.Error
	var se *gomail.SendError
	switch {
	case errors.As(err, &pe):
		code = pe.Code
	case phase == sendPhase && errors.As(err, &se):
		code = se.ErrorCode()
		if se.IsTemp() {
			code = 400
		}
	}
	if code >= 500 && code <= 599 {
		return fmt.Errorf("smtpmail: %s %s: refused: %w", verb, server, err)
	}
	if phase == dialPhase && m.hasAuth && !m.cleartext && !m.implicitTLS &&
		strings.Contains(err.Error(), "does not support STARTTLS") {
		return fmt.Errorf("smtpmail: %s %s: the server offers no STARTTLS; refusing to send credentials in clear: %w",
			verb, server, security.ErrUnavailable)
	}
	return fmt.Errorf("smtpmail: %s %s: %w: %w", verb, server, security.ErrUnavailable, err)
}

func mustPort(p string) int {
	n, _ := strconv.Atoi(p)
	return n
}

// deadlineConn never lets go-mail move a deadline past max, the end of the
// whole send: go-mail renews its deadline before each command.
type deadlineConn struct {
	net.Conn
	max time.Time
}

func (c *deadlineConn) limit(t time.Time) time.Time {
	if t.IsZero() || t.After(c.max) {
		return c.max
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.limit(t)) }

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.limit(t))
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.limit(t))
}
