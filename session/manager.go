package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/propops/propsec/security"
)

// Config configures a [Manager]. Zero fields take the documented defaults.
type Config struct {
	// Store keeps sessions, the blacklist and login history. Required.
	Store Store
	// Users finds the host's users. Required.
	Users UserDirectory
	// Clock tells the time; nil means the system clock.
	Clock security.Clock
	// Locator names where a client IP is; nil means a [NetworkLocator] that
	// knows only local ranges.
	Locator Locator
	// Hasher holds the argon2id parameters; zero means [DefaultHasher].
	Hasher Hasher

	// WebIdleTimeout ends a web session after this long without a request.
	// Default 30 minutes.
	WebIdleTimeout time.Duration
	// WebLifetime ends a web session this long after login. Default 12 hours.
	WebLifetime time.Duration
	// MobileIdleTimeout ends a mobile session after this long without a
	// request. Default 30 days.
	MobileIdleTimeout time.Duration
	// MobileLifetime ends a mobile session (bearer token) this long after it
	// was issued. Default 90 days.
	MobileLifetime time.Duration
	// TouchInterval is how stale LastActive may get before a request
	// refreshes it. Default 1 minute.
	TouchInterval time.Duration

	// MaxFailuresPerEmail failed logins for one email within FailureWindow
	// lock that email out. Default 5.
	MaxFailuresPerEmail int
	// MaxFailuresPerIP failed logins from one IP within FailureWindow lock
	// that IP out. Default 50.
	MaxFailuresPerIP int
	// FailureWindow is the throttling window. Default 15 minutes.
	FailureWindow time.Duration

	// MaxConcurrentHashes bounds how many password hashes run at once (each
	// takes Hasher.Memory KiB). Default GOMAXPROCS.
	MaxConcurrentHashes int

	// Observer, if set, is told of logins, lockouts, credential checks,
	// terminated sessions and blacklistings (see [security.Kind]). nil
	// measures nothing.
	Observer security.Observer

	// OnNewIP, if set, is called after a successful login from an address
	// the user never logged in from before (not for their first login). It
	// runs on the login's goroutine after the session is stored: hand slow
	// work such as sending mail to another goroutine.
	OnNewIP func(ctx context.Context, n NewIPNotice)

	// BreachCheck, if set, is asked at every login whose password is
	// right whether that password is known from data breaches (NIST SP
	// 800-63B). A breached password does not refuse the login: it sets
	// [LoginResult.PasswordBreached], so the host can force a change, and
	// records a [security.EventPasswordBreachDetected] event with the
	// session. An error fails the login (fail closed); to let logins
	// through when the breach source is down, return false and no error
	// (breach.Config.FailOpen does that). With package breach:
	//
	//	BreachCheck: func(ctx context.Context, pw string) (bool, error) {
	//		r, err := checker.CheckPassword(ctx, pw) // a Checker without Events
	//		return r.Breached, err
	//	}
	BreachCheck func(ctx context.Context, password string) (breached bool, err error)

	// NewIP is the new-IP policy: [NewIPRecord] (the default),
	// [NewIPNotify] or [NewIPVerify]. Notify and verify need Mailer; verify
	// needs FactorKey and a Store that is a [VerificationStore].
	NewIP NewIPPolicy
	// Mailer sends the e-mails of the new-IP policy. Required for
	// NewIPNotify and NewIPVerify.
	Mailer Mailer
	// MailTimeout bounds the sending of one new-IP notice. Default 30
	// seconds.
	MailTimeout time.Duration
	// Logger receives the failures of background work (a new-IP notice
	// that could not be sent), without secrets. nil means slog.Default().
	Logger *slog.Logger

	// FactorKey is a 32-byte key, kept outside the database (a file, an
	// environment variable, a secret manager), that encrypts TOTP secrets
	// at rest (XChaCha20-Poly1305) and keys the hashes of e-mailed codes
	// and recovery codes. TOTP enrolment and NewIPVerify need it; losing
	// it disables every enrolled TOTP factor (users then sign in with a
	// recovery code... which needs it too: keep it safe).
	FactorKey []byte
	// TOTPIssuer names the service in authenticator apps. Default
	// "propsec".
	TOTPIssuer string
	// RequireStaffSecondFactor restricts the sessions of staff users who
	// have no second factor: [Auth.Restricted] is set and the Principal
	// has no permissions, so they can only enrol one (httpadapter refuses
	// every other endpoint with 403 second_factor_required). Needs a
	// Store that implements [FactorStore] and [VerificationStore].
	RequireStaffSecondFactor bool
	// SecondFactorOnlyFromNewIP asks users who have a second factor for it
	// only when they log in from a new address. By default (false) they
	// are asked at every login.
	SecondFactorOnlyFromNewIP bool
	// VerificationTTL is how long a login may wait for its verification.
	// Default 10 minutes.
	VerificationTTL time.Duration
	// MaxVerificationAttempts wrong codes end a verification. Default 5.
	MaxVerificationAttempts int
	// Methods are second factors kept by other packages (passkeys),
	// offered at login when the user holds them.
	Methods []FactorMethod
}

// NewIPNotice describes a login from a new address.
type NewIPNotice struct {
	User      security.Principal
	SessionID string
	IP        string
	Location  string
	UserAgent string
	Time      time.Time
}

// Manager runs logins and sessions. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	hashSem chan struct{}
	// joined is set when Store is also Users and reads both in one query.
	joined SessionUserLoader
	// changer is set when Store is also Users and changes passwords.
	changer PasswordChanger

	// dummy is what an unknown email's password is verified against.
	dummy string

	// verifications and factors are set when Store implements them.
	verifications VerificationStore
	factors       FactorStore
	// keys are derived from Config.FactorKey (nil without it).
	keys *factorKeys
	// mail counts the new-IP notices being sent.
	mail sync.WaitGroup
}

// New returns a Manager with cfg's zero fields set to their defaults.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Users == nil {
		return nil, errors.New("session: Config.Store and Config.Users are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.WebIdleTimeout, 30*time.Minute)
	def(&cfg.WebLifetime, 12*time.Hour)
	def(&cfg.MobileIdleTimeout, 30*24*time.Hour)
	def(&cfg.MobileLifetime, 90*24*time.Hour)
	def(&cfg.TouchInterval, time.Minute)
	def(&cfg.FailureWindow, 15*time.Minute)
	if cfg.MaxFailuresPerEmail <= 0 {
		cfg.MaxFailuresPerEmail = 5
	}
	if cfg.MaxFailuresPerIP <= 0 {
		cfg.MaxFailuresPerIP = 50
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if cfg.Locator == nil {
		cfg.Locator = &NetworkLocator{}
	}
	cfg.Hasher = cfg.Hasher.params()
	if err := stepUpDefaults(&cfg); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, hashSem: make(chan struct{}, cfg.MaxConcurrentHashes), dummy: cfg.Hasher.dummy(),
		keys: deriveKeys(cfg.FactorKey)}
	m.verifications, _ = cfg.Store.(VerificationStore)
	m.factors, _ = cfg.Store.(FactorStore)
	if err := m.checkStepUp(); err != nil {
		return nil, err
	}
	if l, ok := cfg.Store.(SessionUserLoader); ok && samePointer(cfg.Store, cfg.Users) {
		m.joined = l
	}
	if c, ok := cfg.Store.(PasswordChanger); ok && samePointer(cfg.Store, cfg.Users) {
		m.changer = c
	}
	return m, nil
}

// samePointer reports whether a and b are the same pointer. (Comparing the
// interfaces with == would panic for an incomparable dynamic type.)
func samePointer(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Kind() == reflect.Pointer && vb.Kind() == reflect.Pointer &&
		va.Type() == vb.Type() && va.Pointer() == vb.Pointer()
}

// Hasher returns the password hasher the manager verifies with, so hosts can
// hash new passwords with the same parameters.
func (m *Manager) Hasher() Hasher { return m.cfg.Hasher }

func (m *Manager) now() time.Time { return security.Now(m.cfg.Clock) }

// Limits on client-supplied login fields.
const (
	MaxEmailBytes     = 254
	MaxUserAgentBytes = 512
)

// LoginRequest is one attempt to log in.
type LoginRequest struct {
	Email    string
	Password string
	Kind     Kind
	// IP is the client address, already resolved through trusted proxies.
	IP        netip.Addr
	UserAgent string
}

// LoginResult is a successful login.
type LoginResult struct {
	// Token is the credential to hand to the client. It is not stored and
	// cannot be recovered later.
	Token     string
	Session   Session
	Principal security.Principal
	// NewIP is true when the user logged in from an address never seen for
	// them before (not on their first login).
	NewIP bool
	// PasswordBreached is true when Config.BreachCheck found the password
	// in breach data: the host should make the user change it.
	PasswordBreached bool
	// Verification, when not nil, says the login needs a second step: no
	// session was created, Token, Session and Principal are empty, and the
	// client must complete it through [Manager.VerifyLogin], which then
	// answers the result this login would have given.
	Verification *Verification
	// Restricted is true for a staff user without a second factor under
	// Config.RequireStaffSecondFactor: the session can only enrol one
	// (see [Auth.Restricted]).
	Restricted bool
}

// Login checks an email and password and creates a session of req.Kind.
//
// It fails with an error wrapping [security.ErrInvalid] for a malformed
// request (which is not counted as an attempt), [security.ErrThrottled] when
// the email or IP is locked out, [security.ErrInvalidCredentials] for an
// unknown email or a wrong password (indistinguishable, also in timing), and
// [security.ErrBlacklisted] for a blacklisted user who gave the right
// password.
func (m *Manager) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	res, err := m.login(ctx, req)
	m.observeLogin(err)
	return res, err
}

func (m *Manager) login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	email := strings.TrimSpace(req.Email)
	switch {
	case email == "":
		return LoginResult{}, security.Invalid("email", "is required")
	case len(email) > MaxEmailBytes:
		return LoginResult{}, security.Invalidf("email", "must be at most %d bytes", MaxEmailBytes)
	case req.Password == "":
		return LoginResult{}, security.Invalid("password", "is required")
	case len(req.Password) > MaxPasswordBytes:
		return LoginResult{}, security.Invalidf("password", "must be at most %d bytes", MaxPasswordBytes)
	case req.Kind != KindWeb && req.Kind != KindMobile:
		return LoginResult{}, security.Invalid("kind", "must be web or mobile")
	}
	now := m.now()
	ip := ipString(req.IP)
	failed := func(reason string, subjectUser int64) security.Event {
		return security.Event{Time: now, Type: security.EventLoginFailed, SubjectUserID: subjectUser,
			Subject: security.CleanText(email, MaxEmailBytes), IP: ip,
			Details: map[string]string{"reason": reason, "kind": string(req.Kind)}}
	}

	// Throttling comes first: a locked-out attempt never reaches the hash.
	// The attempt is reserved before the hash, as a failure that a right
	// password withdraws, so that concurrent attempts are counted one after
	// another: of any number sent at once, at most the limit's worth reach
	// the hash.
	limits := m.loginLimits(email, ip)
	res, err := m.cfg.Store.ReserveLoginAttempt(ctx, limits, m.windowStart(now), now)
	if err != nil {
		return LoginResult{}, err
	}
	if res.Throttled {
		if rerr := m.cfg.Store.RecordEvents(ctx, failed("throttled", 0)); rerr != nil {
			return LoginResult{}, rerr
		}
		return LoginResult{}, m.throttled(limits, res, now)
	}

	user, uerr := m.cfg.Users.UserByEmail(ctx, email)
	if uerr != nil && !errors.Is(uerr, security.ErrNotFound) {
		return LoginResult{}, uerr
	}
	known := uerr == nil && user.PasswordHash != ""
	ok, stale, verr := m.verifyOrDummy(ctx, user.PasswordHash, req.Password)
	if verr != nil {
		return LoginResult{}, verr
	}
	if !known || !ok {
		reason, subject := "bad_credentials", user.UserID
		if !known {
			reason, subject = "unknown_user", 0
		}
		events := append([]security.Event{failed(reason, subject)}, m.lockoutEvents(res, now, subject, email, ip)...)
		// The failures were recorded by the reservation.
		if err := m.cfg.Store.RecordEvents(ctx, events...); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, security.ErrInvalidCredentials
	}

	// The password was right: the attempt is not a failure.
	black, err := m.cfg.Store.IsBlacklisted(ctx, user.UserID)
	if err != nil {
		return LoginResult{}, err
	}
	if black {
		if err := m.cfg.Store.ReleaseLoginAttempt(ctx, res, ""); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, m.refuseBlacklisted(ctx, failed("blacklisted", user.UserID))
	}
	if stale {
		m.rehash(ctx, user, req.Password)
	}

	breached := false
	if m.cfg.BreachCheck != nil {
		if breached, err = m.cfg.BreachCheck(ctx, req.Password); err != nil {
			return LoginResult{}, fmt.Errorf("session: breach check at login: %w", err)
		}
	}

	knownIP, anyIP, err := m.cfg.Store.KnownLoginIP(ctx, user.UserID, ip)
	if err != nil {
		return LoginResult{}, err
	}
	st := sessionStart{user: user, email: email, kind: req.Kind, ip: ip,
		userAgent: security.CleanText(req.UserAgent, MaxUserAgentBytes), location: m.cfg.Locator.Locate(req.IP),
		newIP: anyIP && !knownIP, breached: breached, now: now}
	step, err := m.stepUp(ctx, user, st.newIP)
	if err != nil {
		return LoginResult{}, err
	}
	// The password was right: the attempt is not a failure. The email's
	// earlier failures are forgotten only when no code is asked for, so
	// that wrong codes add up over logins like wrong passwords.
	clear := limits[0].Key
	if len(step.methods) > 0 {
		clear = ""
	}
	if err := m.cfg.Store.ReleaseLoginAttempt(ctx, res, clear); err != nil {
		return LoginResult{}, err
	}
	if len(step.methods) > 0 {
		return m.startVerification(ctx, st, step)
	}
	st.restricted = step.restricted
	return m.startSession(ctx, st)
}

// sessionStart is what a login (or the verification completing it) knows
// of the session to create.
type sessionStart struct {
	user User
	// email names the user in a login_failed event.
	email      string
	kind       Kind
	ip         string
	userAgent  string
	location   string
	newIP      bool
	breached   bool
	restricted bool
	now        time.Time
	// events are written with the session (a verification's success).
	events []security.Event
}

// startSession creates the session of a login whose every step passed,
// with its events, and tells the host about a new IP.
func (m *Manager) startSession(ctx context.Context, st sessionStart) (LoginResult, error) {
	now, ip, user := st.now, st.ip, st.user
	token := security.NewToken()
	s := Session{
		ID:         security.NewID(IDPrefix),
		TokenHash:  security.HashToken(token),
		UserID:     user.UserID,
		Kind:       st.kind,
		IP:         ip,
		UserAgent:  st.userAgent,
		Location:   st.location,
		CreatedAt:  now,
		LastActive: now,
	}
	if st.kind == KindMobile {
		s.IdleTimeout, s.ExpiresAt = m.cfg.MobileIdleTimeout, now.Add(m.cfg.MobileLifetime)
	} else {
		s.IdleTimeout, s.ExpiresAt = m.cfg.WebIdleTimeout, now.Add(m.cfg.WebLifetime)
	}
	for i := range st.events {
		st.events[i].ActorSessionID = s.ID
	}
	ok1 := security.Event{Time: now, Type: security.EventLoginSucceeded, ActorUserID: user.UserID,
		ActorSessionID: s.ID, SubjectUserID: user.UserID, Subject: s.ID, IP: ip,
		Details: map[string]string{"kind": string(st.kind)}}
	events := append(st.events, ok1)
	if st.kind == KindMobile {
		events = append(events, security.Event{Time: now, Type: security.EventTokenIssued, ActorUserID: user.UserID,
			ActorSessionID: s.ID, SubjectUserID: user.UserID, Subject: s.ID, IP: ip})
	}
	if st.newIP {
		events = append(events, security.Event{Time: now, Type: security.EventNewIPVerification, ActorUserID: user.UserID,
			ActorSessionID: s.ID, SubjectUserID: user.UserID, Subject: s.ID, IP: ip,
			Details: map[string]string{"location": s.Location, "policy": string(m.cfg.NewIP)}})
	}
	if st.breached {
		events = append(events, security.Event{Time: now, Type: security.EventPasswordBreachDetected,
			ActorUserID: user.UserID, ActorSessionID: s.ID, SubjectUserID: user.UserID, Subject: s.ID, IP: ip,
			Details: map[string]string{"via": "login"}})
	}
	if err := m.cfg.Store.CreateSession(ctx, s, events); err != nil {
		if errors.Is(err, security.ErrBlacklisted) {
			// Blacklisted between our check and the write.
			return LoginResult{}, m.refuseBlacklisted(ctx, security.Event{Time: now, Type: security.EventLoginFailed,
				SubjectUserID: user.UserID, Subject: security.CleanText(st.email, MaxEmailBytes), IP: ip,
				Details: map[string]string{"reason": "blacklisted", "kind": string(st.kind)}})
		}
		return LoginResult{}, err
	}
	if st.newIP {
		n := NewIPNotice{User: user.Principal, SessionID: s.ID, IP: ip,
			Location: s.Location, UserAgent: s.UserAgent, Time: now}
		if m.cfg.OnNewIP != nil {
			m.cfg.OnNewIP(ctx, n)
		}
		if m.cfg.NewIP == NewIPNotify {
			m.notify(ctx, n)
		}
	}
	p := user.Principal
	if st.restricted {
		p.Permissions = nil
	}
	return LoginResult{Token: token, Session: s, Principal: p, NewIP: st.newIP, PasswordBreached: st.breached,
		Restricted: st.restricted}, nil
}

// rehash stores a fresh hash of password, the right password of u made
// with other parameters. Through a [PasswordChanger] the write is made only
// if u's hash is still the one verified, so a password changed meanwhile is
// never overwritten by a hash of the old one; otherwise through a
// [PasswordUpdater]. Best effort: the login is valid whether or not the
// rehash is stored.
func (m *Manager) rehash(ctx context.Context, u User, password string) {
	if m.changer == nil {
		if _, ok := m.cfg.Users.(PasswordUpdater); !ok {
			return
		}
	}
	fresh, err := m.hash(ctx, password)
	if err != nil {
		return
	}
	if m.changer != nil {
		_, _ = m.changer.ChangePassword(ctx, PasswordChange{UserID: u.UserID, OldHash: u.PasswordHash,
			NewHash: fresh, At: m.now()}, nil)
		return
	}
	_ = m.cfg.Users.(PasswordUpdater).SetPasswordHash(ctx, u.UserID, fresh)
}

// loginLimits are the throttling keys of an attempt on email's password
// from ip: the same for a login and for a password change.
func (m *Manager) loginLimits(email, ip string) []LoginLimit {
	return []LoginLimit{
		{Key: "email:" + strings.ToLower(strings.TrimSpace(email)), Max: m.cfg.MaxFailuresPerEmail},
		{Key: "ip:" + ip, Max: m.cfg.MaxFailuresPerIP},
	}
}

// windowStart is the oldest time a failure may have to count at now.
// Failures count while they are younger than the window, so one made
// exactly FailureWindow ago has left it (matching RetryAfter).
func (m *Manager) windowStart(now time.Time) time.Time {
	return now.Add(-m.cfg.FailureWindow + time.Nanosecond)
}

// lockoutEvents are the lockout events of a failed attempt reserved as res
// under [Manager.loginLimits]: one per key that this failure brings to its
// limit, so each lockout is recorded once.
func (m *Manager) lockoutEvents(res LoginReservation, now time.Time, subject int64, email, ip string) []security.Event {
	var events []security.Event
	if res.Failures[0]+1 == m.cfg.MaxFailuresPerEmail {
		events = append(events, security.Event{Time: now, Type: security.EventLockout,
			SubjectUserID: subject, Subject: security.CleanText(email, MaxEmailBytes), IP: ip,
			Details: map[string]string{"key": "email", "window": m.cfg.FailureWindow.String()}})
		m.observe(security.Measurement{Kind: security.KindLockout, Result: "email"})
	}
	if res.Failures[1]+1 == m.cfg.MaxFailuresPerIP {
		events = append(events, security.Event{Time: now, Type: security.EventLockout, IP: ip,
			Subject: ip, Details: map[string]string{"key": "ip", "window": m.cfg.FailureWindow.String()}})
		m.observe(security.Measurement{Kind: security.KindLockout, Result: "ip"})
	}
	return events
}

// verifyOrDummy verifies password against the stored hash phc, or against
// the dummy hash when phc is empty (an unknown user, or one without a
// password) or malformed, so that every case costs one real verification
// and timing does not tell them apart. ok is false unless phc is a real
// hash that password matches.
func (m *Manager) verifyOrDummy(ctx context.Context, phc, password string) (ok, stale bool, err error) {
	if phc == "" {
		_, _, err = m.verify(ctx, m.dummy, password)
		return false, false, err
	}
	ok, stale, err = m.verify(ctx, phc, password)
	if err != nil && ctx.Err() == nil {
		// A stored hash we cannot parse: a wrong password, at the cost of
		// a real one.
		_, _, err = m.verify(ctx, m.dummy, password)
		return false, false, err
	}
	return ok, stale, err
}

func (m *Manager) refuseBlacklisted(ctx context.Context, ev security.Event) error {
	if err := m.cfg.Store.RecordEvents(ctx, ev); err != nil {
		return err
	}
	return security.ErrBlacklisted
}

// throttled is the ThrottledError of a reservation refused under limits:
// it waits until every key at its limit has dropped below it, that is
// until the oldest failure of the longest-locked key leaves the window.
// Keys under their limit do not count.
func (m *Manager) throttled(limits []LoginLimit, res LoginReservation, now time.Time) error {
	var wait time.Duration
	for i, l := range limits {
		if res.Failures[i] >= l.Max {
			wait = max(wait, res.Oldest[i].Add(m.cfg.FailureWindow).Sub(now))
		}
	}
	return &security.ThrottledError{RetryAfter: max(wait, time.Second)}
}

func (m *Manager) acquire(ctx context.Context) error {
	select {
	case m.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) verify(ctx context.Context, phc, password string) (ok, stale bool, err error) {
	if err := m.acquire(ctx); err != nil {
		return false, false, err
	}
	defer func() { <-m.hashSem }()
	return m.cfg.Hasher.Verify(phc, password)
}

func (m *Manager) hash(ctx context.Context, password string) (string, error) {
	if err := m.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-m.hashSem }()
	return m.cfg.Hasher.Hash(password)
}

// Authenticate returns the live session whose credential is token, and its
// user. Anything else (a malformed, unknown, revoked or expired credential, or
// a user the directory no longer knows) fails with
// [security.ErrUnauthenticated].
func (m *Manager) Authenticate(ctx context.Context, token string) (Auth, error) {
	if m.cfg.Observer == nil {
		return m.authenticate(ctx, token)
	}
	start := time.Now()
	a, err := m.authenticate(ctx, token)
	m.observeAuthenticate(err, time.Since(start))
	return a, err
}

func (m *Manager) authenticate(ctx context.Context, token string) (Auth, error) {
	if !security.ValidTokenFormat(token) {
		return Auth{}, security.ErrUnauthenticated
	}
	s, u, err := m.sessionUser(ctx, security.HashToken(token))
	if errors.Is(err, security.ErrNotFound) {
		return Auth{}, security.ErrUnauthenticated
	}
	if err != nil {
		return Auth{}, err
	}
	now := m.now()
	if !s.Live(now) {
		return Auth{}, security.ErrUnauthenticated
	}
	if now.Sub(s.LastActive) >= m.cfg.TouchInterval {
		// Best effort: a touch that fails (a busy or full disk) only
		// lets the session idle out sooner, which is the safe side, so
		// it does not fail a request that is otherwise authenticated.
		if err := m.cfg.Store.TouchSession(ctx, s.ID, now); err == nil {
			s.LastActive = now
		}
	}
	a := Auth{Session: s, Principal: u.Principal}
	if m.cfg.RequireStaffSecondFactor && u.IsStaff() {
		if a.Restricted, err = m.restricted(ctx, u); err != nil {
			return Auth{}, err
		}
		if a.Restricted {
			a.Principal.Permissions = nil
		}
	}
	return a, nil
}

// sessionUser finds the session of a credential hash and its user: in one
// read when the store can, else in two.
func (m *Manager) sessionUser(ctx context.Context, h security.TokenHash) (Session, User, error) {
	if m.joined != nil {
		return m.joined.SessionUserByTokenHash(ctx, h)
	}
	s, err := m.cfg.Store.SessionByTokenHash(ctx, h)
	if err != nil {
		return Session{}, User{}, err
	}
	if !s.Live(m.now()) {
		// No need to ask the directory about a dead session.
		return s, User{}, nil
	}
	u, err := m.cfg.Users.UserByID(ctx, s.UserID)
	return s, u, err
}

// Logout revokes the caller's own session.
func (m *Manager) Logout(ctx context.Context, a Auth, ip netip.Addr) error {
	typ := security.EventLogout
	if a.Session.Kind == KindMobile {
		typ = security.EventTokenRevoked
	}
	now := m.now()
	ev := security.Event{Time: now, Type: typ, ActorUserID: a.Principal.UserID, ActorSessionID: a.Session.ID,
		SubjectUserID: a.Principal.UserID, Subject: a.Session.ID, IP: ipString(ip)}
	return m.cfg.Store.RevokeSession(ctx, a.Session.ID, now, []security.Event{ev})
}

// SessionInfo is a live session as listed by [Manager.List] and
// [Manager.ListOwn].
type SessionInfo struct {
	Session
	UserName string
	// IsCurrent is true for the session the lister is using.
	IsCurrent bool
}

// Paging limits for [Manager.List].
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListOptions selects a page of [Manager.List].
type ListOptions struct {
	// UserID, when non-zero, keeps only that user's sessions.
	UserID int64
	// Page counts from 1. Zero means 1.
	Page int
	// Limit is the page size, at most MaxListLimit. Zero means
	// DefaultListLimit.
	Limit int
}

// List returns a page of the live sessions of every user (or of
// opts.UserID), and their total count. It needs
// [security.PermSessionsList].
func (m *Manager) List(ctx context.Context, actor Auth, opts ListOptions) ([]SessionInfo, int, error) {
	if !actor.Principal.Can(security.PermSessionsList) {
		return nil, 0, security.ErrForbidden
	}
	return m.list(ctx, actor, opts)
}

// list is List (and ListOwn) after the permission check.
func (m *Manager) list(ctx context.Context, actor Auth, opts ListOptions) ([]SessionInfo, int, error) {
	if opts.Page == 0 {
		opts.Page = 1
	}
	if opts.Limit == 0 {
		opts.Limit = DefaultListLimit
	}
	switch {
	case opts.Page < 1:
		return nil, 0, security.Invalid("page", "must be at least 1")
	case opts.Limit < 1 || opts.Limit > MaxListLimit:
		return nil, 0, security.Invalidf("limit", "must be between 1 and %d", MaxListLimit)
	case opts.UserID < 0:
		return nil, 0, security.Invalid("user_id", "must be a positive integer")
	case opts.Page > (1<<31)/opts.Limit:
		return nil, 0, security.Invalid("page", "is too large")
	}
	list, total, err := m.cfg.Store.ListSessions(ctx, ListQuery{Now: m.now(), UserID: opts.UserID,
		Offset: (opts.Page - 1) * opts.Limit, Limit: opts.Limit})
	if err != nil {
		return nil, 0, err
	}
	names := map[int64]string{}
	out := make([]SessionInfo, len(list))
	for i, s := range list {
		name, ok := names[s.UserID]
		if !ok {
			if u, err := m.cfg.Users.UserByID(ctx, s.UserID); err == nil {
				name = u.Name
			} else if !errors.Is(err, security.ErrNotFound) {
				return nil, 0, err
			}
			names[s.UserID] = name
		}
		out[i] = SessionInfo{Session: s, UserName: name, IsCurrent: s.ID == actor.Session.ID}
	}
	return out, total, nil
}

// Terminate revokes the live session with public id sessionID.
//
// A staff user with [security.PermSessionsTerminate] may terminate anyone's
// session; any staff user may terminate their own other sessions. The
// caller's current session is refused with [security.ErrInvalid] (use
// [Manager.Logout]). An unknown, revoked or expired session is
// [security.ErrNotFound]; another user's session, for a caller without the
// permission, is [security.ErrForbidden]. (A staff member without the
// permission can thus tell whether a session id exists; ids carry 100 random
// bits and are shown only to holders of PermSessionsList.)
func (m *Manager) Terminate(ctx context.Context, actor Auth, sessionID string, ip netip.Addr) error {
	if !actor.Principal.IsStaff() {
		return security.ErrForbidden
	}
	if !security.ValidID(IDPrefix, sessionID) {
		return security.Invalid("session_id", "must be a session id (sess_…)")
	}
	if sessionID == actor.Session.ID {
		return security.Invalid("session_id", "cannot terminate your own current session; use logout")
	}
	s, err := m.cfg.Store.SessionByID(ctx, sessionID)
	if err != nil {
		return err
	}
	now := m.now()
	if s.UserID != actor.Principal.UserID && !actor.Principal.Can(security.PermSessionsTerminate) {
		return security.ErrForbidden
	}
	if !s.Live(now) {
		return fmt.Errorf("session %s is not active: %w", sessionID, security.ErrNotFound)
	}
	ev := security.Event{Time: now, Type: security.EventSessionTerminated, ActorUserID: actor.Principal.UserID,
		ActorSessionID: actor.Session.ID, SubjectUserID: s.UserID, Subject: s.ID, IP: ipString(ip),
		Details: map[string]string{"reason": "terminated", "kind": string(s.Kind)}}
	if err := m.cfg.Store.RevokeSession(ctx, sessionID, now, []security.Event{ev}); err != nil {
		return err
	}
	m.observe(security.Measurement{Kind: security.KindSessionsTerminated, Result: "terminated", N: 1})
	return nil
}

// MaxReasonRunes is the longest blacklist reason accepted, in characters.
const MaxReasonRunes = 500

// Blacklist adds userID to the blacklist and revokes all their live sessions
// and bearer tokens at once. It needs [security.PermSessionsManage]; reason
// is required (at most [MaxReasonRunes] characters); nobody may blacklist
// themselves; an unknown user is [security.ErrNotFound]; a user already
// blacklisted is [security.ErrConflict]. It returns how many sessions were
// revoked.
func (m *Manager) Blacklist(ctx context.Context, actor Auth, userID int64, reason string, ip netip.Addr) (int, error) {
	if !actor.Principal.Can(security.PermSessionsManage) {
		return 0, security.ErrForbidden
	}
	reason = strings.TrimSpace(reason)
	switch {
	case userID <= 0:
		return 0, security.Invalid("user_id", "must be a positive integer")
	case reason == "":
		return 0, security.Invalid("reason", "is required")
	case len([]rune(reason)) > MaxReasonRunes:
		return 0, security.Invalidf("reason", "must be at most %d characters", MaxReasonRunes)
	case userID == actor.Principal.UserID:
		return 0, security.Invalid("user_id", "you cannot blacklist yourself")
	}
	u, err := m.cfg.Users.UserByID(ctx, userID)
	if err != nil {
		return 0, err
	}
	now := m.now()
	ipS := ipString(ip)
	clean := security.CleanText(reason, 4*MaxReasonRunes)
	entry := BlacklistEntry{UserID: userID, UserName: u.Name, Reason: clean, BlacklistedBy: actor.Principal.UserID,
		BlacklistedByName: actor.Principal.Name, CreatedAt: now}
	n, err := m.cfg.Store.AddBlacklist(ctx, entry, func(revoked []Session) []security.Event {
		events := []security.Event{{Time: now, Type: security.EventBlacklistAdded, ActorUserID: actor.Principal.UserID,
			ActorSessionID: actor.Session.ID, SubjectUserID: userID, Subject: strconv.FormatInt(userID, 10), IP: ipS,
			Details: map[string]string{"reason": clean, "sessions_revoked": strconv.Itoa(len(revoked))}}}
		for _, s := range revoked {
			events = append(events, security.Event{Time: now, Type: security.EventSessionTerminated,
				ActorUserID: actor.Principal.UserID, ActorSessionID: actor.Session.ID, SubjectUserID: userID,
				Subject: s.ID, IP: ipS, Details: map[string]string{"reason": "blacklisted", "kind": string(s.Kind)}})
		}
		return events
	})
	if err == nil {
		m.observeBlacklist(n)
	}
	return n, err
}

// Unblacklist removes userID from the blacklist, so they can log in again.
// It revives no session. It needs [security.PermSessionsManage]; a user who
// is not blacklisted is [security.ErrNotFound].
func (m *Manager) Unblacklist(ctx context.Context, actor Auth, userID int64, ip netip.Addr) error {
	if !actor.Principal.Can(security.PermSessionsManage) {
		return security.ErrForbidden
	}
	if userID <= 0 {
		return security.Invalid("user_id", "must be a positive integer")
	}
	ev := security.Event{Time: m.now(), Type: security.EventBlacklistRemoved, ActorUserID: actor.Principal.UserID,
		ActorSessionID: actor.Session.ID, SubjectUserID: userID, Subject: strconv.FormatInt(userID, 10), IP: ipString(ip)}
	return m.cfg.Store.RemoveBlacklist(ctx, userID, []security.Event{ev})
}

// ListBlacklist returns every blacklisted user. It needs
// [security.PermSessionsManage].
func (m *Manager) ListBlacklist(ctx context.Context, actor Auth) ([]BlacklistEntry, error) {
	if !actor.Principal.Can(security.PermSessionsManage) {
		return nil, security.ErrForbidden
	}
	return m.cfg.Store.Blacklist(ctx)
}

// Purge deletes sessions and records that ended more than a day ago. Hosts
// call it now and then (the example server does so hourly).
func (m *Manager) Purge(ctx context.Context) error {
	return m.cfg.Store.PurgeExpired(ctx, m.now().Add(-24*time.Hour))
}

func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().String()
}
