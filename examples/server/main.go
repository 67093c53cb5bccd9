// Command server is a small host application built on propsec: the main job
// of the README. It keeps everything in one SQLite file and mounts every
// documented endpoint with httpadapter.
//
// Usage:
//
//	go run ./examples/server [-addr 127.0.0.1:8080] [-db propsec.db] [-users users.json] [-trusted-proxy CIDR]...
//	    [-watch PATH]... [-scan-interval 15m] [-realtime] [-integrity-key HEX] [-hibp-url URL] [-breach-corpus FILE]
//	    [-audit-anchor ID:HASH]... [-geoip FILE] [-metrics-addr ADDR] [-console-prefix /console/]
//	    [-new-ip record|notify|verify -smtp-url URL -mail-from ADDR [-mail-report-url URL] [-smtp-ca FILE] [-factor-key HEX]]
//
// Every flag can also come from a PROPSEC_ variable, -db from $PROPSEC_DB,
// -scan-interval from $PROPSEC_SCAN_INTERVAL, so that a database password
// or a key need not appear in the process list; the command line wins.
// Repeatable flags take a comma list (-watch: a list separated by
// os.PathListSeparator). -h names each flag's variable.
//
// With no users in the database and no -users file it creates a staff
// administrator with every permission and prints its email and a random
// password once.
//
// With -watch it monitors those directories for file integrity: roots
// without a baseline get one before the server listens, and scans run every
// -scan-interval (0: only on demand, POST /api/security/run-integrity-check).
// With -realtime (Linux) changes also raise alerts as they happen; scans then
// run at least hourly as its safety net.
// The baseline's MAC key comes from -integrity-key or $PROPSEC_INTEGRITY_KEY
// (hex), else from the file DB.integrity-key (0600), made on first use.
//
// With -breach-corpus (an offline Pwned Passwords corpus built by
// examples/pwned) or -hibp-url (the HIBP range API, e.g.
// https://api.pwnedpasswords.com) it serves GET
// /api/security/password-breach-check and checks passwords at login,
// flagging breached ones; the corpus wins when both are given.
//
// With -geoip FILE (a MaxMind DB file: GeoLite2 or GeoIP2 City, or DB-IP
// City Lite) sessions show where a login came from ("London, GB");
// without it, only local addresses are named ("Local network").
//
// With -metrics-addr ADDR it serves Prometheus metrics (package
// promexport) at http://ADDR/metrics, on a listener of its own; without it,
// nothing is measured.
//
// With -new-ip notify it e-mails a user whose account is signed in to from
// an address never seen for them (package smtpmail, through -smtp-url);
// with -new-ip verify such a login answers 202 with a verification id and
// an e-mailed code completes it (POST /api/security/verify-login). A user's
// first login is never a new-IP login. The SMTP URL holds a password:
// give it as $PROPSEC_SMTP_URL; it is never logged.
//
// It serves GET /healthz (200 while the process serves HTTP) and GET
// /readyz (200 when the store answers with this program's schema, the
// audit chain verified at start and every -watch root has a baseline; 503
// with the failing checks otherwise), unauthenticated, for probes.
//
// It serves the staff console (package console) at /console/, or at
// -console-prefix; "-console-prefix off" leaves it out.
//
// It always serves GET /api/admin/security-report (staff with
// api.admin.security_report.manage), and audits refused authorizations and
// CSRF failures as events in the same database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/propops/propsec/console"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/envflag"
	"github.com/propops/propsec/internal/hostsetup"
	"github.com/propops/propsec/mobileauth"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

type prefixList []netip.Prefix

func (p *prefixList) String() string {
	s := make([]string, len(*p))
	for i, v := range *p {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixList) Set(v string) error {
	pr, err := netip.ParsePrefix(v)
	if err != nil {
		a, aerr := netip.ParseAddr(v)
		if aerr != nil {
			return fmt.Errorf("not a CIDR or address: %q", v)
		}
		pr = netip.PrefixFrom(a, a.BitLen())
	}
	*p = append(*p, pr.Masked())
	return nil
}

// Separator implements [envflag.List]: $PROPSEC_TRUSTED_PROXY is a comma
// list.
func (p *prefixList) Separator() string { return "," }

// envPrefix is the prefix of the variables that may give every flag
// (internal/envflag): -db comes from $PROPSEC_DB.
const envPrefix = "PROPSEC"

type options struct {
	addr            string
	db              string
	users           string
	trusted         prefixList
	insecureCookies bool
	watch           envflag.Paths
	scanInterval    time.Duration
	realtime        bool
	integrityKey    string
	hibpURL         string
	breachCorpus    string
	auditAnchors    envflag.Strings
	geoIP           string
	metricsAddr     string
	newIP           string
	newIPPolicy     session.NewIPPolicy
	smtpURL         string
	mailFrom        string
	mailReportURL   string
	smtpCA          string
	factorKey       string
	// requireStaffFactor and factorNewIPOnly are session.Config's
	// RequireStaffSecondFactor and SecondFactorOnlyFromNewIP.
	requireStaffFactor bool
	factorNewIPOnly    bool
	consolePrefix      string
	passkeyRPID        string
	passkeyRPName      string
	passkeyOrigins     envflag.Strings
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.db, "db", "propsec.db", "SQLite database file, or a postgres:// URL for PostgreSQL (several instances on one database)")
	fs.StringVar(&o.users, "users", "", "JSON file of users to add or update at start (a user whose password or email it replaces is signed out everywhere)")
	fs.Var(&o.trusted, "trusted-proxy", "CIDR of a reverse proxy whose X-Forwarded-For is trusted (repeatable)")
	fs.BoolVar(&o.insecureCookies, "insecure-cookies", false, "DEVELOPMENT ONLY: send the session cookie without the Secure flag")
	fs.Var(&o.watch, "watch", "directory to monitor for file integrity (repeatable)")
	fs.DurationVar(&o.scanInterval, "scan-interval", 0, "time between integrity scans (0: only on demand)")
	fs.BoolVar(&o.realtime, "realtime", false, "also raise integrity alerts as files change (inotify; Linux)")
	fs.Var(&o.auditAnchors, "audit-anchor", "audit head ID:HASH exported earlier, checked at start (repeatable)")
	fs.StringVar(&o.hibpURL, "hibp-url", "", "Pwned Passwords range API base URL (e.g. https://api.pwnedpasswords.com)")
	fs.StringVar(&o.breachCorpus, "breach-corpus", "", "offline Pwned Passwords corpus file (wins over -hibp-url)")
	fs.StringVar(&o.geoIP, "geoip", "", "MaxMind DB file (.mmdb: GeoLite2/GeoIP2 or DB-IP City or Country) naming where logins come from")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "address to serve Prometheus metrics on, at /metrics, on a listener of its own (default: none)")
	fs.StringVar(&o.newIP, "new-ip", "record", "what a login from an address new for the user does: record, notify (e-mail the user) or verify (an e-mailed code completes it)")
	// Not a Func flag: the flag package repeats a refused value, and this
	// one holds a password.
	fs.StringVar(&o.smtpURL, "smtp-url", "", "mail server for -new-ip notify|verify: smtp://user:pass@host:587 (STARTTLS required) or smtps://…:465; it holds a password: prefer the variable")
	fs.StringVar(&o.mailFrom, "mail-from", "", "sender of the new-IP e-mails: \"Name <address>\" or an address")
	fs.StringVar(&o.mailReportURL, "mail-report-url", "", "http(s) page where users report a login that was not theirs, linked from the e-mails")
	fs.StringVar(&o.smtpCA, "smtp-ca", "", "PEM file of CA certificates to trust for the mail server (default: the system's)")
	fs.Func("factor-key", "second-factor key, 32 bytes as 64 `hex` digits (default with -new-ip verify: a key file beside -db); prefer the variable", func(v string) error {
		k, err := hostsetup.ParseKey(v)
		if err == nil && len(k) != session.FactorKeySize {
			err = fmt.Errorf("the key must be exactly %d bytes", session.FactorKeySize)
		}
		o.factorKey = v
		return err
	})
	fs.BoolVar(&o.requireStaffFactor, "require-staff-second-factor", false, "staff accounts must enrol a second factor (TOTP or a passkey): until they do, a staff session can only enrol")
	fs.BoolVar(&o.factorNewIPOnly, "second-factor-new-ip-only", false, "ask users with a second factor for it only at logins from a new IP (default: at every login)")
	fs.StringVar(&o.consolePrefix, "console-prefix", console.DefaultPrefix, "path of the staff console (package console); \"off\" leaves it out")
	fs.StringVar(&o.passkeyRPID, "passkey-rp-id", "", "serve passkeys (WebAuthn) as a second factor for this relying party id: the site's domain (\"localhost\" in development)")
	fs.StringVar(&o.passkeyRPName, "passkey-rp-name", "propsec", "the relying party name authenticators show")
	fs.Var(&o.passkeyOrigins, "passkey-origin", "exact origin of the pages running passkey ceremonies (repeatable; default https://RPID)")
	fs.Func("integrity-key", "baseline MAC key, `hex` (default: a key file beside -db)", func(v string) error {
		_, err := hostsetup.ParseKey(v)
		o.integrityKey = v
		return err
	})
	envflag.Annotate(fs, envPrefix)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := envflag.Apply(fs, envPrefix, os.LookupEnv); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.scanInterval < 0 {
		return o, errors.New("-scan-interval must not be negative")
	}
	if o.scanInterval > 0 && len(o.watch) == 0 {
		return o, errors.New("-scan-interval needs at least one -watch directory")
	}
	if o.realtime && len(o.watch) == 0 {
		return o, errors.New("-realtime needs at least one -watch directory")
	}
	if len(o.passkeyOrigins) > 0 && o.passkeyRPID == "" {
		return o, errors.New("-passkey-origin needs -passkey-rp-id")
	}
	if err := checkMailFlags(&o); err != nil {
		return o, err
	}
	if o.consolePrefix == "off" {
		o.consolePrefix = ""
	}
	if o.realtime && o.scanInterval == 0 {
		o.scanInterval = time.Hour // the safety net of real-time detection
	}
	return o, nil
}

// run is the whole server; it returns when ctx is done and the server has
// shut down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Cancelled on every return, so the background loops end even when the
	// server stops on its own (a listener error) rather than by ctx.
	ctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	store, err := hostsetup.Open(ctx, o.db, log)
	if err != nil {
		return err
	}
	defer store.Close()

	obs, stopMetrics, err := startMetrics(o.metricsAddr, store, log, stdout)
	if err != nil {
		return err
	}
	defer stopMetrics()
	breachEndpoint, breachLogin, closeBreach, err := breachCheckers(o, store, obs, log)
	if err != nil {
		return err
	}
	defer closeBreach()
	locator, closeGeo, err := openLocator(o.geoIP, log)
	if err != nil {
		return err
	}
	defer closeGeo()
	scfg := session.Config{Store: store, Users: store, Locator: locator, Observer: obs,
		OnNewIP: func(_ context.Context, n session.NewIPNotice) {
			// A real host would email the user here.
			log.Info("login from a new IP address", "user_id", n.User.UserID, "ip", n.IP, "location", n.Location)
		}, Logger: log}
	if err := newIPConfig(o, &scfg, log); err != nil {
		return err
	}
	if err := factorKey(o, &scfg, log); err != nil {
		return err
	}
	if breachLogin != nil {
		scfg.BreachCheck = func(ctx context.Context, pw string) (bool, error) {
			r, err := breachLogin.CheckPassword(ctx, pw)
			return r.Breached, err
		}
	}
	pk, err := passkeys(o, store)
	if err != nil {
		return err
	}
	if pk != nil {
		scfg.Methods = append(scfg.Methods, pk)
	}
	mgr, err := session.New(scfg)
	if err != nil {
		return err
	}
	if err := hostsetup.LoadUsers(ctx, store, mgr.Hasher(), o.users, stdout); err != nil {
		return err
	}
	auditOK, err := verifyAudit(ctx, store, o.auditAnchors, log)
	if err != nil {
		return err
	}
	key, err := store.Secret(ctx, "csrf", 32)
	if err != nil {
		return err
	}
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: store})
	if err != nil {
		return err
	}
	mon, err := startIntegrity(ctx, o, store, obs, log)
	if err != nil {
		return err
	}
	if mon != nil {
		defer mon.Close()
	}
	reports, err := report.New(report.Config{Store: store})
	if err != nil {
		return err
	}
	// Events: refused authorizations and CSRF failures are audited through
	// the handler's bounded queue, which h.Run drains below.
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, Mobile: mobileauth.New(mgr), CSRF: csrf,
		TrustedProxies: o.trusted, Logger: log, InsecureCookies: o.insecureCookies, Integrity: mon,
		Breach: breachEndpoint, Report: reports, Events: store, Observer: obs, Passkeys: pk})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	h.Register(mux)
	if o.consolePrefix != "" {
		c, err := console.NewHandler(console.Options{Adapter: h, Sessions: mgr, Integrity: mon, Report: reports, Passkeys: pk,
			Prefix: o.consolePrefix, TrustedProxies: o.trusted, Logger: log})
		if err != nil {
			return err
		}
		mux.Handle(consolePattern(o.consolePrefix), c)
	}
	registerHealth(mux, &readiness{store: store, auditOK: auditOK, monitor: mon, log: log})
	// A host route of its own, behind propsec's authentication.
	mux.Handle("GET /api/me", h.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := httpadapter.AuthFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"success":true,"data":{"user_id":%d,"session_id":%q}}`+"\n", a.Principal.UserID, a.Session.ID)
	})))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		// CanonicalPaths: a JSON 404, not the mux's redirect, for an
		// unclean path under /api/security/ or /api/admin/.
		Handler:           h.CanonicalPaths(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var background sync.WaitGroup
	background.Go(func() { purge(ctx, mgr, pk, log) })
	// The refusal recorder outlives ctx until the server has shut down, so
	// that refusals during the shutdown are written too.
	recorderCtx, stopRecorder := context.WithCancel(context.WithoutCancel(ctx))
	background.Go(func() { h.Run(recorderCtx) })
	if mon != nil && o.scanInterval > 0 {
		background.Go(func() {
			if err := mon.Run(ctx, o.scanInterval); err != nil && ctx.Err() == nil {
				log.Error("periodic integrity scans stopped", "err", err)
			}
		})
	}
	if o.consolePrefix != "" {
		fmt.Fprintf(stdout, "staff console on http://%s%s\n", ln.Addr(), consolePattern(o.consolePrefix))
	}
	// Last: tests and scripts wait for this line.
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "db", hostsetup.RedactDB(o.db))

	select {
	case err = <-errc:
		cancelRun()
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
	}
	stopRecorder()
	background.Wait()
	if st := h.RefusalStats(); st.Dropped > 0 || st.Failed > 0 {
		log.Warn("refusal audit events lost", "dropped", st.Dropped, "failed", st.Failed)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// consolePattern is the mux pattern of the console at prefix, given with
// or without its slashes.
func consolePattern(prefix string) string {
	if p := strings.Trim(prefix, "/"); p != "" {
		return "/" + p + "/"
	}
	return "/"
}

// startIntegrity makes the integrity monitor of the -watch directories and
// baselines those that have none, or returns nil without -watch.
func startIntegrity(ctx context.Context, o options, store integrity.Store, obs security.Observer, log *slog.Logger) (*integrity.Monitor, error) {
	if len(o.watch) == 0 {
		return nil, nil
	}
	key, keySource, err := hostsetup.IntegrityKey("-integrity-key", o.integrityKey, o.db)
	if err != nil {
		return nil, err
	}
	mon, err := integrity.New(integrity.Config{Store: store, Key: key, Roots: o.watch, Realtime: o.realtime, Logger: log,
		Observer: obs})
	if err != nil {
		return nil, err
	}
	log.Info("file integrity monitoring", "roots", mon.Roots(), "key", keySource, "scan_interval", o.scanInterval.String(),
		"realtime", o.realtime)
	created, err := mon.Init(ctx)
	if err != nil {
		mon.Close()
		return nil, fmt.Errorf("integrity baseline: %w", err)
	}
	for _, r := range created {
		log.Info("baseline created", "root", r)
	}
	return mon, nil
}

// verifyAudit walks the audit log's hash chain at start (against any
// anchors given), logs its head, for the operator to export elsewhere, and
// reports whether the chain is intact. A broken chain is logged loudly and
// makes /readyz answer 503 but does not stop the server: the evidence stays
// where it is for inspection.
func verifyAudit(ctx context.Context, log security.AuditLog, anchorTexts []string, logger *slog.Logger) (intact bool, err error) {
	var anchors []security.AuditHead
	for _, a := range anchorTexts {
		h, err := security.ParseAuditHead(a)
		if err != nil {
			return false, fmt.Errorf("-audit-anchor %q: %w", a, err)
		}
		anchors = append(anchors, h)
	}
	res, err := log.VerifyEvents(ctx, anchors...)
	if err != nil {
		return false, fmt.Errorf("verifying the audit log: %w", err)
	}
	if !res.OK() {
		logger.Error("AUDIT LOG TAMPERED", "event", res.Break.ID, "problem", string(res.Break.Problem), "detail", res.Break.Detail)
		return false, nil
	}
	logger.Info("audit log verified", "events", res.Events, "head", res.Head.String())
	return true, nil
}

// purge deletes ended sessions and expired records (and passkey
// ceremonies, with pk) hourly until ctx is done.
func purge(ctx context.Context, mgr *session.Manager, pk *passkey.Service, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := mgr.Purge(ctx); err != nil && ctx.Err() == nil {
			log.Error("purge", "err", err)
		}
		if pk != nil {
			if err := pk.Purge(ctx); err != nil && ctx.Err() == nil {
				log.Error("purge passkey ceremonies", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
