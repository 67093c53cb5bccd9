package envflag_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/envflag"
)

// list is a repeatable flag value.
type list struct {
	sep   string
	items []string
}

func (l *list) String() string     { return strings.Join(l.items, l.sep) }
func (l *list) Set(v string) error { l.items = append(l.items, v); return nil }
func (l *list) Separator() string  { return l.sep }

type settings struct {
	addr     string
	secure   bool
	interval time.Duration
	count    int
	paths    list
	cidrs    list
}

func newFlags() (*flag.FlagSet, *settings) {
	s := &settings{paths: list{sep: envflag.PathSeparator}, cidrs: list{sep: ","}}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.addr, "addr", "default", "address")
	fs.BoolVar(&s.secure, "insecure-cookies", false, "bool")
	fs.DurationVar(&s.interval, "scan-interval", 0, "duration")
	fs.IntVar(&s.count, "count", 1, "int")
	fs.Var(&s.paths, "watch", "paths")
	fs.Var(&s.cidrs, "trusted-proxy", "cidrs")
	return fs, s
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestName(t *testing.T) {
	for flagName, want := range map[string]string{
		"addr":          "PROPSEC_ADDR",
		"scan-interval": "PROPSEC_SCAN_INTERVAL",
		"hibp.url":      "PROPSEC_HIBP_URL",
		"Key2":          "PROPSEC_KEY2",
	} {
		require.Equal(t, want, envflag.Name("PROPSEC", flagName))
	}
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, s *settings)
	}{
		{"nothing set keeps defaults", nil, nil, func(t *testing.T, s *settings) {
			require.Equal(t, "default", s.addr)
			require.False(t, s.secure)
			require.Empty(t, s.paths.items)
		}},
		{"variables fill unset flags", nil, map[string]string{
			"PROPSEC_ADDR": "127.0.0.1:9", "PROPSEC_INSECURE_COOKIES": "1",
			"PROPSEC_SCAN_INTERVAL": "15m", "PROPSEC_COUNT": "7",
		}, func(t *testing.T, s *settings) {
			require.Equal(t, "127.0.0.1:9", s.addr)
			require.True(t, s.secure)
			require.Equal(t, 15*time.Minute, s.interval)
			require.Equal(t, 7, s.count)
		}},
		{"the command line wins", []string{"-addr", "flag", "-insecure-cookies=false", "-watch", "/only"}, map[string]string{
			"PROPSEC_ADDR": "env", "PROPSEC_INSECURE_COOKIES": "true", "PROPSEC_WATCH": "/a:/b",
		}, func(t *testing.T, s *settings) {
			require.Equal(t, "flag", s.addr)
			require.False(t, s.secure)
			require.Equal(t, []string{"/only"}, s.paths.items)
		}},
		{"an empty variable is unset", nil, map[string]string{"PROPSEC_ADDR": "", "PROPSEC_INSECURE_COOKIES": ""}, func(t *testing.T, s *settings) {
			require.Equal(t, "default", s.addr)
			require.False(t, s.secure)
		}},
		{"lists split on their separator", nil, map[string]string{
			"PROPSEC_WATCH":         "/srv/a,b:/srv/c d::",
			"PROPSEC_TRUSTED_PROXY": "10.0.0.0/8, 192.168.0.0/16,,",
		}, func(t *testing.T, s *settings) {
			require.Equal(t, []string{"/srv/a,b", "/srv/c d"}, s.paths.items)
			require.Equal(t, []string{"10.0.0.0/8", "192.168.0.0/16"}, s.cidrs.items)
		}},
		{"other prefixes are ignored", nil, map[string]string{"OTHER_ADDR": "x", "ADDR": "y"}, func(t *testing.T, s *settings) {
			require.Equal(t, "default", s.addr)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, s := newFlags()
			require.NoError(t, fs.Parse(tc.args))
			require.NoError(t, envflag.Apply(fs, "PROPSEC", env(tc.env)))
			tc.check(t, s)
		})
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		variable, value, want string
	}{
		{"PROPSEC_INSECURE_COOKIES", "yes-please", "$PROPSEC_INSECURE_COOKIES: invalid value for -insecure-cookies: want true or false"},
		{"PROPSEC_SCAN_INTERVAL", "fortnight", "$PROPSEC_SCAN_INTERVAL: invalid value for -scan-interval: want a duration"},
		{"PROPSEC_COUNT", "99999999999999999999", "$PROPSEC_COUNT: invalid value for -count: want a whole number"},
	} {
		t.Run(tc.variable, func(t *testing.T) {
			fs, _ := newFlags()
			require.NoError(t, fs.Parse(nil))
			err := envflag.Apply(fs, "PROPSEC", env(map[string]string{tc.variable: tc.value}))
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), tc.value, "the value may be a secret")
		})
	}
}

func TestApplyOSEnvironment(t *testing.T) {
	t.Setenv("PROPSECTEST_ADDR", "from-os")
	fs, s := newFlags()
	require.NoError(t, fs.Parse(nil))
	require.NoError(t, envflag.Apply(fs, "PROPSECTEST", nil))
	require.Equal(t, "from-os", s.addr)
}

func TestAnnotate(t *testing.T) {
	fs, _ := newFlags()
	envflag.Annotate(fs, "PROPSEC")
	var help strings.Builder
	fs.SetOutput(&help)
	fs.PrintDefaults()
	for _, v := range []string{"$PROPSEC_ADDR", "$PROPSEC_SCAN_INTERVAL", "$PROPSEC_WATCH", "$PROPSEC_TRUSTED_PROXY"} {
		require.Contains(t, help.String(), v)
	}
}

func TestListTypes(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var s envflag.Strings
	var p envflag.Paths
	fs.Var(&s, "anchor", "")
	fs.Var(&p, "watch", "")
	require.NoError(t, fs.Parse([]string{"-anchor", "a"}))
	env := map[string]string{"X_ANCHOR": "b, c", "X_WATCH": "/srv/a,b" + envflag.PathSeparator + " /srv/c "}
	require.NoError(t, envflag.Apply(fs, "X", func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	require.Equal(t, envflag.Strings{"a"}, s, "the command line wins")
	require.Equal(t, envflag.Paths{"/srv/a,b", "/srv/c"}, p)
	require.Equal(t, "/srv/a,b"+envflag.PathSeparator+"/srv/c", p.String())
}
