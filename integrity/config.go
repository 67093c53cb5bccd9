package integrity

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/propops/propsec/integrity/internal/glob"
	"github.com/propops/propsec/security"
)

// Defaults of [Config].
const (
	// DefaultMaxHashBytes is the largest file that is hashed: 1 GiB.
	DefaultMaxHashBytes = 1 << 30
	// DefaultMaxDiffBytes is the largest file that is diffed and whose
	// content is kept: 1 MiB.
	DefaultMaxDiffBytes = 1 << 20
	// MinKeyBytes is the shortest key accepted for the baseline MAC.
	MinKeyBytes = 32
	// MaxHostBytes is the longest [Config.Host].
	MaxHostBytes = 255
)

// Config configures a [Monitor]. Zero fields take the documented defaults.
//
// Some behaviour is not configurable because every alternative is unsafe:
// symlinks are recorded with their target and never followed (walking never
// leaves the roots), and FIFOs, sockets and devices are recorded by type and
// never opened.
type Config struct {
	// Store keeps the baseline and the alerts. Required. A store that
	// several machines share implements [HostStores]: the Monitor then
	// uses the Store of Host. One that several processes share implements
	// [ScanLocker]: the Monitor then also takes its lock.
	Store Store
	// Host names this machine: alerts and checks carry it, and a store
	// shared by several machines keeps each one's baseline apart by it.
	// Every Monitor watching the same files must use the same Host, and
	// Monitors on different machines different ones. At most
	// [MaxHostBytes] bytes of printable UTF-8. Default [os.Hostname].
	Host string
	// Key authenticates the baseline (keyed BLAKE3); at least [MinKeyBytes]
	// random bytes. Required. Keep it out of the database: whoever holds
	// both can forge a baseline.
	Key []byte
	// Roots are the directories to watch. Relative paths are made absolute;
	// roots may not nest. A root that is itself a symlink is recorded as a
	// symlink and not descended. Required.
	Roots []string

	// Include, if not empty, limits the files (not directories) recorded to
	// those matching one of its patterns. Exclude leaves out every path
	// matching one of its patterns, and everything below an excluded
	// directory.
	//
	// Patterns are path.Match patterns on slash-separated paths relative to
	// the root. A pattern without "/" matches the last element ("*.log",
	// ".git"); one with "/" matches the whole path ("var/cache",
	// "uploads/*.php"), where an element "**" matches any number of
	// elements ("**/node_modules").
	Include []string
	Exclude []string

	// Clock tells the time; nil means the system clock.
	Clock security.Clock
	// Workers is how many files are read at once. Default GOMAXPROCS.
	Workers int
	// MaxHashBytes is the size above which a file is not read: its size,
	// mtime and inode stand in for its content, and so does its ctime when
	// its mode and owner did not change (a change of those moves the ctime
	// too and is a metadata alert). Such a modified alert ends "(not
	// hashed: over N bytes)", as does one for a hashed file that grew past
	// the cap. Default [DefaultMaxHashBytes].
	MaxHashBytes int64
	// MaxDiffBytes is the size above which a file is not diffed. The
	// known-good content of text files up to this size is kept for diffs.
	// Default [DefaultMaxDiffBytes]; negative keeps no content and diffs
	// nothing.
	MaxDiffBytes int64

	// SeverityRules grade alerts; the first rule that matches wins. nil
	// means [DefaultSeverityRules]; an empty, non-nil slice means none.
	SeverityRules []SeverityRule
	// DefaultSeverity grades alerts no rule matches. Default
	// [SeverityMedium].
	DefaultSeverity Severity

	// Realtime makes [Monitor.Run] also watch every directory of the roots
	// (inotify) and re-check the paths that change as they change, raising
	// the alerts a scan would, without waiting for one. Linux only: [New]
	// fails on other systems. See "Real-time detection" in the package
	// documentation.
	Realtime bool
	// Logger receives what real-time detection reports (lost events, the
	// kernel's watch limit, failed re-checks). nil means [slog.Default].
	Logger *slog.Logger

	// Observer, if set, is told of every finished scan with its result,
	// files examined and duration ([security.KindScan]), and of real-time
	// re-checks and fallbacks to a full scan
	// ([security.KindRealtimeRecheck], [security.KindRealtimeFallback]).
	// nil measures nothing.
	Observer security.Observer
}

// SeverityRule grades the alerts of the paths it matches.
type SeverityRule struct {
	// Pattern is a pattern as in [Config.Include]; "" matches every path.
	Pattern string
	// Executable, if true, matches only regular files with an execute bit
	// (before or after the change).
	Executable bool
	Severity   Severity
}

// DefaultSeverityRules grade scripts and executables critical and
// configuration files high; everything else gets [Config.DefaultSeverity]
// (medium).
var DefaultSeverityRules = []SeverityRule{
	{Pattern: "*.php", Severity: SeverityCritical},
	{Pattern: "*.phtml", Severity: SeverityCritical},
	{Pattern: "*.phar", Severity: SeverityCritical},
	{Pattern: "*.js", Severity: SeverityCritical},
	{Pattern: "*.mjs", Severity: SeverityCritical},
	{Pattern: "*.sh", Severity: SeverityCritical},
	{Pattern: "*.py", Severity: SeverityCritical},
	{Pattern: "*.pl", Severity: SeverityCritical},
	{Pattern: "*.rb", Severity: SeverityCritical},
	{Pattern: "*.cgi", Severity: SeverityCritical},
	{Executable: true, Severity: SeverityCritical},
	{Pattern: "*.conf", Severity: SeverityHigh},
	{Pattern: "*.cnf", Severity: SeverityHigh},
	{Pattern: "*.cfg", Severity: SeverityHigh},
	{Pattern: "*.config", Severity: SeverityHigh},
	{Pattern: "*.ini", Severity: SeverityHigh},
	{Pattern: "*.yaml", Severity: SeverityHigh},
	{Pattern: "*.yml", Severity: SeverityHigh},
	{Pattern: "*.toml", Severity: SeverityHigh},
	{Pattern: "*.json", Severity: SeverityHigh},
	{Pattern: "*.xml", Severity: SeverityHigh},
	{Pattern: "*.properties", Severity: SeverityHigh},
	{Pattern: "*.env", Severity: SeverityHigh},
	{Pattern: ".env", Severity: SeverityHigh},
	{Pattern: ".env.*", Severity: SeverityHigh},
	{Pattern: ".htaccess", Severity: SeverityHigh},
	{Pattern: ".htpasswd", Severity: SeverityHigh},
	{Pattern: ".user.ini", Severity: SeverityHigh},
}

type severityRule struct {
	glob       *glob.Pattern
	executable bool
	severity   Severity
}

func (c *Config) fill() error {
	if c.Store == nil {
		return security.Invalid("Store", "is required")
	}
	if c.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return security.Invalidf("Host", "cannot find the host name (%v): set it", err)
		}
		c.Host = h
	}
	if len(c.Host) > MaxHostBytes || security.CleanText(c.Host, MaxHostBytes) != c.Host || strings.TrimSpace(c.Host) == "" {
		return security.Invalidf("Host", "must be 1 to %d bytes of printable UTF-8", MaxHostBytes)
	}
	if len(c.Key) < MinKeyBytes {
		return security.Invalidf("Key", "must be at least %d bytes", MinKeyBytes)
	}
	if len(c.Roots) == 0 {
		return security.Invalid("Roots", "at least one root is required")
	}
	roots := make([]string, 0, len(c.Roots))
	for _, r := range c.Roots {
		if r == "" {
			return security.Invalid("Roots", "empty root")
		}
		abs, err := filepath.Abs(r)
		if err != nil {
			return security.Invalidf("Roots", "%q: %v", r, err)
		}
		roots = append(roots, filepath.Clean(abs))
	}
	slices.Sort(roots)
	for i := 1; i < len(roots); i++ {
		a, b := roots[i-1], roots[i]
		if a == b {
			return security.Invalidf("Roots", "%s is listed twice", a)
		}
		if strings.HasPrefix(b, strings.TrimSuffix(a, string(filepath.Separator))+string(filepath.Separator)) {
			return security.Invalidf("Roots", "%s is inside %s", b, a)
		}
	}
	c.Roots = roots
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.MaxHashBytes <= 0 {
		c.MaxHashBytes = DefaultMaxHashBytes
	}
	if c.MaxDiffBytes == 0 {
		c.MaxDiffBytes = DefaultMaxDiffBytes
	}
	if c.MaxDiffBytes > c.MaxHashBytes {
		c.MaxDiffBytes = c.MaxHashBytes
	}
	if c.SeverityRules == nil {
		c.SeverityRules = DefaultSeverityRules
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Realtime && !realtimeSupported {
		return fmt.Errorf("integrity: Config.Realtime is not supported on %s (it needs Linux inotify): %w",
			runtime.GOOS, errors.ErrUnsupported)
	}
	if c.DefaultSeverity == "" {
		c.DefaultSeverity = SeverityMedium
	}
	if !c.DefaultSeverity.Valid() {
		return security.Invalidf("DefaultSeverity", "unknown severity %q", c.DefaultSeverity)
	}
	return nil
}

func compileRules(rules []SeverityRule) ([]severityRule, error) {
	out := make([]severityRule, 0, len(rules))
	for i, r := range rules {
		if !r.Severity.Valid() {
			return nil, security.Invalidf("SeverityRules", "rule %d: unknown severity %q", i, r.Severity)
		}
		sr := severityRule{executable: r.Executable, severity: r.Severity}
		if r.Pattern != "" {
			g, err := glob.Compile(fmt.Sprintf("SeverityRules[%d]", i), r.Pattern)
			if err != nil {
				return nil, err
			}
			sr.glob = &g
		}
		out = append(out, sr)
	}
	return out, nil
}
