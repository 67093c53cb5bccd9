package main

import (
	"context"
	"log/slog"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
	"github.com/propops/propsec/security"
)

// breachCheckers builds the password breach checks of -breach-corpus (an
// offline corpus file, which wins) or -hibp-url (the HIBP range API behind a
// cache): one for the endpoint, which fails closed and records matches, and
// one for logins, which fails open (a login is not refused because HIBP is
// down) and records nothing itself, since the session records the match.
// Neither flag: no breach checks (nothing is sent anywhere by default).
func breachCheckers(o options, events security.EventRecorder, obs security.Observer, log *slog.Logger) (endpoint, login *breach.Checker, closeFn func() error, err error) {
	closeFn = func() error { return nil }
	var src breach.Source
	switch {
	case o.breachCorpus != "":
		c, err := breach.OpenCorpus(o.breachCorpus)
		if err != nil {
			return nil, nil, closeFn, err
		}
		src, closeFn = c, c.Close
		log.Info("password breach checks", "corpus", o.breachCorpus, "hashes", c.Len())
	case o.hibpURL != "":
		client, err := hibp.New(hibp.Config{BaseURL: o.hibpURL})
		if err != nil {
			return nil, nil, closeFn, err
		}
		if src, err = breach.NewCache(breach.CacheConfig{Source: client, Observer: obs}); err != nil {
			return nil, nil, closeFn, err
		}
		log.Info("password breach checks", "hibp", o.hibpURL)
	default:
		return nil, nil, closeFn, nil
	}
	onErr := func(ctx context.Context, err error) {
		log.WarnContext(ctx, "password breach source failed", "err", err.Error())
	}
	if endpoint, err = breach.New(breach.Config{Source: src, Events: events, OnSourceError: onErr, Observer: obs}); err != nil {
		closeFn()
		return nil, nil, func() error { return nil }, err
	}
	if login, err = breach.New(breach.Config{Source: src, FailOpen: true, OnSourceError: onErr, Observer: obs}); err != nil {
		closeFn()
		return nil, nil, func() error { return nil }, err
	}
	return endpoint, login, closeFn, nil
}
