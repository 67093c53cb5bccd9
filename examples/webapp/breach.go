package main

import (
	"context"
	"log/slog"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// openBreach returns the breach checker of -breach-corpus (an offline
// corpus, which wins) or -hibp-url (the HIBP range API behind a cache),
// or nil with neither: then nothing is checked and nothing is sent
// anywhere. The checker fails closed; see breachCheck for where it is
// relaxed.
func openBreach(o options, log *slog.Logger) (*breach.Checker, func() error, error) {
	closeFn := func() error { return nil }
	var src breach.Source
	switch {
	case o.breachCorpus != "":
		c, err := breach.OpenCorpus(o.breachCorpus)
		if err != nil {
			return nil, closeFn, err
		}
		src, closeFn = c, c.Close
		log.Info("password breach checks", "corpus", o.breachCorpus, "hashes", c.Len())
	case o.hibpURL != "":
		client, err := hibp.New(hibp.Config{BaseURL: o.hibpURL})
		if err != nil {
			return nil, closeFn, err
		}
		if src, err = breach.NewCache(breach.CacheConfig{Source: client}); err != nil {
			return nil, closeFn, err
		}
		log.Info("password breach checks", "hibp", o.hibpURL)
	default:
		return nil, closeFn, nil
	}
	c, err := breach.New(breach.Config{Source: src, OnSourceError: func(ctx context.Context, err error) {
		log.WarnContext(ctx, "password breach source failed", "err", err.Error())
	}})
	if err != nil {
		closeFn()
		return nil, func() error { return nil }, err
	}
	return c, closeFn, nil
}

// strictKey marks a context whose breach check must fail closed.
type strictKey struct{}

// strictBreach returns ctx for a breach check that must not be skipped:
// a password change, which is refused when the password could not be
// checked.
func strictBreach(ctx context.Context) context.Context {
	return context.WithValue(ctx, strictKey{}, true)
}

// breachCheck is session.Config.BreachCheck for c. The session manager
// asks it at login (where a breached password only flags the login) and
// at a password change (where it refuses the new password). When the
// source fails, a login goes through unflagged (an unreachable HIBP must
// not lock everyone out) but a change, whose context strictBreach marked,
// fails: "could not check" is never taken as "not breached" there.
func breachCheck(c *breach.Checker, log *slog.Logger) func(ctx context.Context, pw string) (bool, error) {
	return func(ctx context.Context, pw string) (bool, error) {
		r, err := c.CheckPassword(ctx, pw)
		if err != nil && ctx.Value(strictKey{}) == nil {
			log.WarnContext(ctx, "login not checked for breached passwords: source failed")
			return false, nil
		}
		return r.Breached, err
	}
}

// newManager is the session manager of the app on store, with breach
// checks when c is not nil. A zero hasher means the default argon2id cost.
func newManager(store *sqlitestore.Store, hasher session.Hasher, c *breach.Checker, log *slog.Logger) (*session.Manager, error) {
	cfg := session.Config{Store: store, Users: store, Hasher: hasher}
	if c != nil {
		cfg.BreachCheck = breachCheck(c, log)
	}
	return session.New(cfg)
}
