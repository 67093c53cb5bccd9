package main

import (
	"flag"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/envflag"
	"github.com/propops/propsec/session"
)

// Every flag can come from its PROPSEC_ variable, and the command line
// wins.
func TestFlagsFromEnvironment(t *testing.T) {
	key := strings.Repeat("ab", 32)
	for name, value := range map[string]string{
		"PROPSEC_ADDR":             "127.0.0.1:9999",
		"PROPSEC_DB":               "postgres://app:s3cret@db.example/propsec",
		"PROPSEC_USERS":            "/etc/propsec/users.json",
		"PROPSEC_TRUSTED_PROXY":    "10.0.0.1, 192.168.0.0/16",
		"PROPSEC_INSECURE_COOKIES": "true",
		"PROPSEC_WATCH":            "/srv/www:/srv/a,b",
		"PROPSEC_SCAN_INTERVAL":    "15m",
		"PROPSEC_AUDIT_ANCHOR":     "7:" + key + ",9:" + key,
		"PROPSEC_HIBP_URL":         "https://hibp.example",
		"PROPSEC_BREACH_CORPUS":    "/var/lib/pwned.bin",
		"PROPSEC_INTEGRITY_KEY":    key,
		"PROPSEC_GEOIP":            "/var/lib/GeoLite2-City.mmdb",
		"PROPSEC_NEW_IP":           "verify",
		"PROPSEC_SMTP_URL":         "smtp://mailer:s3cret@mail.example:587",
		"PROPSEC_MAIL_FROM":        "Security <security@example.com>",
		"PROPSEC_MAIL_REPORT_URL":  "https://example.com/report",
		"PROPSEC_SMTP_CA":          "/etc/ssl/mail-ca.pem",
		"PROPSEC_FACTOR_KEY":       key,
		"PROPSEC_CONSOLE_PREFIX":   "/staff/",
		"PROPSEC_PASSKEY_RP_ID":    "example.com",
		"PROPSEC_PASSKEY_RP_NAME":  "Example",
		"PROPSEC_PASSKEY_ORIGIN":   "https://example.com, https://www.example.com",
	} {
		t.Setenv(name, value)
	}
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, options{
		addr:            "127.0.0.1:9999",
		db:              "postgres://app:s3cret@db.example/propsec",
		users:           "/etc/propsec/users.json",
		trusted:         prefixList{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.168.0.0/16")},
		insecureCookies: true,
		watch:           envflag.Paths{"/srv/www", "/srv/a,b"},
		scanInterval:    15 * time.Minute,
		integrityKey:    key,
		hibpURL:         "https://hibp.example",
		breachCorpus:    "/var/lib/pwned.bin",
		auditAnchors:    envflag.Strings{"7:" + key, "9:" + key},
		geoIP:           "/var/lib/GeoLite2-City.mmdb",
		newIP:           "verify",
		newIPPolicy:     session.NewIPVerify,
		smtpURL:         "smtp://mailer:s3cret@mail.example:587",
		mailFrom:        "Security <security@example.com>",
		mailReportURL:   "https://example.com/report",
		smtpCA:          "/etc/ssl/mail-ca.pem",
		factorKey:       key,
		consolePrefix:   "/staff/",
		passkeyRPID:     "example.com",
		passkeyRPName:   "Example",
		passkeyOrigins:  envflag.Strings{"https://example.com", "https://www.example.com"},
	}, o)

	o, err = parseFlags([]string{"-addr", "127.0.0.1:1", "-watch", "/only", "-insecure-cookies=false"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1", o.addr, "the command line wins")
	require.Equal(t, envflag.Paths{"/only"}, o.watch)
	require.False(t, o.insecureCookies)
	require.Equal(t, "/etc/propsec/users.json", o.users, "unset flags still come from the environment")
}

// Every flag the server has is documented with its variable in -h and in
// the README.
func TestFlagsDocumentTheirVariables(t *testing.T) {
	var help strings.Builder
	_, err := parseFlags([]string{"-h"}, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)
	// The flag names, from the help text: "  -name ...".
	var names []string
	for line := range strings.Lines(help.String()) {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			names = append(names, strings.Fields(rest)[0])
		}
	}
	require.NotEmpty(t, names)
	for _, n := range names {
		v := envflag.Name(envPrefix, n)
		require.Contains(t, help.String(), "$"+v, "-h names the variable of -%s", n)
		require.True(t, strings.Contains(readme, "`"+v+"`"), "the README lists $%s, the variable of -%s", v, n)
	}
}

func TestBadFlagsFromEnvironment(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"PROPSEC_INTEGRITY_KEY", "not-hex-secret", "$PROPSEC_INTEGRITY_KEY: invalid value for -integrity-key: the key must be hex"},
		{"PROPSEC_INTEGRITY_KEY", "abcd", "$PROPSEC_INTEGRITY_KEY: invalid value for -integrity-key: the key must be at least"},
		{"PROPSEC_TRUSTED_PROXY", "10.0.0.0/8,nonsense", "$PROPSEC_TRUSTED_PROXY: invalid value for -trusted-proxy"},
		{"PROPSEC_SCAN_INTERVAL", "often", "$PROPSEC_SCAN_INTERVAL: invalid value for -scan-interval: want a duration"},
		{"PROPSEC_INSECURE_COOKIES", "sure", "$PROPSEC_INSECURE_COOKIES: invalid value for -insecure-cookies: want true or false"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := parseFlags(nil, io.Discard)
			require.ErrorContains(t, err, tc.want)
			if tc.name == "PROPSEC_INTEGRITY_KEY" {
				require.NotContains(t, err.Error(), tc.value, "a key is never repeated in an error")
			}
		})
	}
}

// The mail flags: a policy that needs mail without a server, mail settings
// without a policy that uses them, bad values; the SMTP password is never
// repeated.
func TestMailFlags(t *testing.T) {
	const url = "smtp://mailer:hunter2@mail.example:587"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-new-ip", "sometimes"}, "-new-ip must be record, notify or verify"},
		{[]string{"-new-ip", "verify", "-mail-from", "a@example.com"}, "needs -smtp-url"},
		{[]string{"-new-ip", "notify", "-smtp-url", url}, "and -mail-from"},
		{[]string{"-smtp-url", url}, "need -new-ip notify or verify"},
		{[]string{"-mail-from", "a@example.com"}, "need -new-ip notify or verify"},
		{[]string{"-factor-key", "abcd"}, "the key must be at least"},
		{[]string{"-factor-key", strings.Repeat("ab", 33)}, "exactly 32 bytes"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
	o, err := parseFlags([]string{"-new-ip", "notify", "-smtp-url", url, "-mail-from", "a@example.com"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, session.NewIPNotify, o.newIPPolicy)
	o, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, session.NewIPRecord, o.newIPPolicy, "record by default")
}
