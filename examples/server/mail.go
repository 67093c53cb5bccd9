package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/propops/propsec/internal/hostsetup"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/smtpmail"
)

// checkMailFlags refuses a -new-ip policy without what it needs, and mail
// settings that would be ignored.
func checkMailFlags(o *options) error {
	p, err := session.ParseNewIPPolicy(o.newIP)
	if err != nil {
		return fmt.Errorf("-new-ip must be record, notify or verify, not %q", o.newIP)
	}
	o.newIPPolicy = p
	if p == session.NewIPRecord {
		if o.smtpURL != "" || o.mailFrom != "" || o.mailReportURL != "" || o.smtpCA != "" {
			return errors.New("-smtp-url, -mail-from, -mail-report-url and -smtp-ca need -new-ip notify or verify")
		}
		return nil
	}
	if o.smtpURL == "" || o.mailFrom == "" {
		return fmt.Errorf("-new-ip %s needs -smtp-url (better: $PROPSEC_SMTP_URL) and -mail-from", p)
	}
	return nil
}

// newIPConfig sets the new-IP fields of scfg from the flags: the policy,
// the SMTP mailer and, for verify, the factor key. It never logs the SMTP
// URL's password.
func newIPConfig(o options, scfg *session.Config, log *slog.Logger) error {
	scfg.NewIP = o.newIPPolicy
	if o.newIPPolicy == session.NewIPRecord {
		return nil
	}
	cfg := smtpmail.Config{URL: o.smtpURL, From: o.mailFrom, ReportURL: o.mailReportURL,
		AppName: "the propsec example server", SendTimeout: 20 * time.Second, Logger: log}
	if o.smtpCA != "" {
		pem, err := os.ReadFile(o.smtpCA)
		if err != nil {
			return fmt.Errorf("-smtp-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-smtp-ca %s: no PEM certificate in it", o.smtpCA)
		}
		cfg.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	m, err := smtpmail.New(cfg)
	if err != nil {
		// smtpmail's errors never repeat the URL.
		return fmt.Errorf("-smtp-url/-mail-from: %w", err)
	}
	scfg.Mailer = m
	scfg.MailTimeout = cfg.SendTimeout
	log.Info("new-IP policy", "policy", string(o.newIPPolicy), "smtp", m.String())
	return nil
}

// factorKey gives scfg the second-factor key of -factor-key, or of the key
// file beside -db under -new-ip verify: e-mailed codes need it, and so do
// TOTP and recovery codes (the console's Security view, POST
// /api/security/mfa), which without it answer that TOTP is unavailable.
func factorKey(o options, scfg *session.Config, log *slog.Logger) error {
	if o.newIPPolicy != session.NewIPVerify && o.factorKey == "" &&
		hostsetup.IsPostgres(o.db) && os.Getenv(hostsetup.FactorKeyEnv) == "" {
		// No key file beside a database URL: TOTP and recovery codes
		// stay off rather than refuse to start.
		if o.requireStaffFactor && o.passkeyRPID == "" {
			return errors.New("-require-staff-second-factor needs a second factor to enrol: -factor-key (TOTP) or -passkey-rp-id")
		}
		scfg.RequireStaffSecondFactor = o.requireStaffFactor
		scfg.SecondFactorOnlyFromNewIP = o.factorNewIPOnly
		log.Warn("second factors (TOTP, recovery codes) are off: give -factor-key or $" + hostsetup.FactorKeyEnv)
		return nil
	}
	key, source, err := hostsetup.FactorKey("-factor-key", o.factorKey, o.db)
	if err != nil {
		return err
	}
	scfg.FactorKey = key
	scfg.RequireStaffSecondFactor = o.requireStaffFactor
	scfg.SecondFactorOnlyFromNewIP = o.factorNewIPOnly
	log.Info("second-factor key", "source", source)
	return nil
}
