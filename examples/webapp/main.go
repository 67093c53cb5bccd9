// Command webapp is a small server-rendered host application built on
// propsec's host-route helpers: its own login page (html/template) whose
// form posts to the adapter's POST /login, a page listing the user's own
// sessions with "sign out everywhere else", a password-change form and a
// notes form of its own, every form protected by httpadapter's Protect. It
// uses only the public API of the module.
//
// Usage:
//
//	go run ./examples/webapp [-addr 127.0.0.1:8081] [-db webapp.db] [-insecure-cookies]
//	    [-trusted-proxy CIDR]... [-breach-corpus FILE | -hibp-url URL] [-single-use-form-tokens]
//
// It keeps users, sessions and audit events in one SQLite file. With no
// users in it, it creates a demo customer and prints its email and a random
// password once.
//
// The session cookie is "__Host-" and Secure, which browsers keep only
// over HTTPS: behind a TLS-terminating proxy that is what you want. To try
// it on http://127.0.0.1 without TLS, pass -insecure-cookies (development
// only).
//
// With -breach-corpus (an offline Pwned Passwords corpus, see
// examples/pwned) or -hibp-url (the HIBP range API, e.g.
// https://api.pwnedpasswords.com), new passwords found in breach data are
// refused and logins with breached passwords are flagged in the audit log.
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

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

type options struct {
	addr            string
	db              string
	insecureCookies bool
	singleUse       bool
	trusted         prefixList
	breachCorpus    string
	hibpURL         string
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

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "address to listen on")
	fs.StringVar(&o.db, "db", "webapp.db", "SQLite database file")
	fs.BoolVar(&o.insecureCookies, "insecure-cookies", false, "DEVELOPMENT ONLY: send the session cookie without the Secure flag, for plain HTTP")
	fs.BoolVar(&o.singleUse, "single-use-form-tokens", false, "make each form's CSRF token single-use (default: reusable for the session)")
	fs.Var(&o.trusted, "trusted-proxy", "CIDR of a reverse proxy whose X-Forwarded-For is trusted (repeatable)")
	fs.StringVar(&o.breachCorpus, "breach-corpus", "", "offline Pwned Passwords corpus file (wins over -hibp-url)")
	fs.StringVar(&o.hibpURL, "hibp-url", "", "Pwned Passwords range API base URL (e.g. https://api.pwnedpasswords.com)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return o, nil
}

// run is the whole program; it returns when ctx is done and the server has
// shut down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	store, err := sqlitestore.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer store.Close()
	checker, closeBreach, err := openBreach(o, log)
	if err != nil {
		return err
	}
	defer closeBreach()
	mgr, err := newManager(store, session.Hasher{}, checker, log)
	if err != nil {
		return err
	}
	if err := seedDemoUser(ctx, store, mgr.Hasher(), stdout); err != nil {
		return err
	}
	a, err := newApp(ctx, appConfig{Store: store, Sessions: mgr, InsecureCookies: o.insecureCookies,
		SingleUseFormTokens: o.singleUse, TrustedProxies: o.trusted, Logger: log})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a,
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
	background.Go(func() { purge(ctx, mgr, log) })
	// Refusals during the shutdown are still written: the recorder stops
	// after the server.
	recorderCtx, stopRecorder := context.WithCancel(context.WithoutCancel(ctx))
	background.Go(func() { a.adapter.Run(recorderCtx) })
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "db", o.db, "insecure_cookies", o.insecureCookies)

	select {
	case err = <-errc:
		cancelRun()
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
	}
	stopRecorder()
	background.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// demoEmail is the user seeded into an empty database.
const demoEmail = "demo@localhost"

// seedDemoUser creates a demo customer with a random password, and prints
// both once, when the database has no users.
func seedDemoUser(ctx context.Context, st *sqlitestore.Store, h session.Hasher, stdout io.Writer) error {
	n, err := st.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	pw := security.NewToken()[:20]
	phc, err := h.Hash(pw)
	if err != nil {
		return err
	}
	added, err := st.InsertUser(ctx, session.User{PasswordHash: phc, Principal: security.Principal{UserID: 1,
		Name: "Demo User", Email: demoEmail, AccountType: security.AccountCustomer}})
	if err != nil || !added {
		return err
	}
	fmt.Fprintf(stdout, "created demo user: email %s password %s (shown once)\n", demoEmail, pw)
	return nil
}

// purge deletes ended sessions and expired records hourly until ctx is done.
func purge(ctx context.Context, mgr *session.Manager, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := mgr.Purge(ctx); err != nil && ctx.Err() == nil {
			log.Error("purge", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
