package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// AxeVersion is the npm version range of axe-core installed at test time.
const AxeVersion = "axe-core@4"

var (
	axeOnce sync.Once
	axeSrc  string
	axeErr  error
)

// axeSource returns axe.min.js: from $PROPSEC_AXE_CORE, or installed with
// npm into a temporary directory once per test binary (removed once read).
// The sync.Once is the lock of tests running in parallel.
func axeSource(t testing.TB) string {
	t.Helper()
	axeOnce.Do(func() {
		if p := os.Getenv(EnvAxeCore); p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				axeErr = fmt.Errorf("%s: %w", EnvAxeCore, err)
			}
			axeSrc = string(b)
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			axeErr = fmt.Errorf("npm not found, needed to install %s: install it with `apt-get install npm` (or set %s to an axe.min.js)", AxeVersion, EnvAxeCore)
			return
		}
		dir, err := os.MkdirTemp("", "propsec-axe-")
		if err != nil {
			axeErr = err
			return
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "install", "--silent", "--no-audit", "--no-fund",
			"--no-package-lock", "--prefix", dir, AxeVersion)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			axeErr = fmt.Errorf("npm install %s: %v: %s", AxeVersion, err, strings.TrimSpace(string(out)))
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		if err != nil {
			axeErr = err
			return
		}
		axeSrc = string(b)
	})
	if axeErr != nil {
		unavailable(t, "axe-core: %v", axeErr)
	}
	return axeSrc
}

// AxeViolation is one rule that axe-core found broken on a page.
type AxeViolation struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"`
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []AxeNode `json:"nodes"`
}

// AxeNode is one element that breaks a rule.
type AxeNode struct {
	// Target is the element's CSS selector.
	Target  string `json:"target"`
	Summary string `json:"summary"`
}

// String is the violation as one readable paragraph.
func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s <%s>", v.ID, v.Impact, v.Help, v.HelpURL)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %s", n.Target)
		if n.Summary != "" {
			fmt.Fprintf(&b, ": %s", strings.ReplaceAll(strings.TrimSpace(n.Summary), "\n", " "))
		}
	}
	return b.String()
}

// axeRun runs every axe-core rule on the document and returns its
// violations in a compact form.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), summary: n.failureSummary || ''})),
})))`

// AxeViolations injects axe-core into the current page, unless already
// there, through the DevTools protocol (so a strict CSP does not stop it),
// runs it and returns every violation, whatever its impact.
func (p *Page) AxeViolations() []AxeViolation {
	p.t.Helper()
	src := axeSource(p.t)
	if !Eval[bool](p, `typeof window.axe === 'object'`) {
		ctx, cancel := p.step()
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;undefined", chromedp.EvalIgnoreExceptions)); err != nil &&
			!strings.Contains(err.Error(), "undefined") {
			p.Fatalf("injecting axe-core: %v", err)
		}
		if !Eval[bool](p, `typeof window.axe === 'object'`) {
			p.Fatalf("axe-core did not load into the page")
		}
	}
	return Eval[[]AxeViolation](p, axeRun)
}

// Axe runs axe-core on the current page and fails the test if it finds any
// violation of impact serious or critical, listing each (rule id, impact,
// help and the selectors of the elements). Lesser violations are logged.
func (p *Page) Axe() {
	p.t.Helper()
	var bad, minor []string
	for _, v := range p.AxeViolations() {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v.String())
		} else {
			minor = append(minor, v.String())
		}
	}
	if len(minor) > 0 {
		p.t.Logf("axe-core on %s, moderate or minor:\n  %s", p.URL(), strings.Join(minor, "\n  "))
	}
	if len(bad) > 0 {
		p.Fatalf("axe-core found %d serious or critical violation(s):\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
}
