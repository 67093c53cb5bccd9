package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/propops/propsec/integrity"
)

// readyTimeout bounds the checks of one GET /readyz, so that a probe gets
// its answer (503) quickly while the database does not answer.
const readyTimeout = 2 * time.Second

// Values of a readiness check: fixed words, never an error's text, since
// the probe is unauthenticated.
const (
	checkOK          = "ok"
	checkUnreachable = "unreachable" // the store did not answer
	checkUnknown     = "unknown"     // not checked: the store did not answer
	checkBehind      = "behind"      // the schema lacks this program's migrations
	checkNewer       = "newer"       // a newer program migrated the schema
	checkTampered    = "tampered"    // the audit chain failed verification at start
	checkMissing     = "missing"     // a -watch root has no baseline
)

// schemaStore is what readiness asks the store: sqlitestore and pgstore
// both answer it with one query.
type schemaStore interface {
	SchemaVersion(ctx context.Context) (current, latest int, err error)
}

// readiness answers GET /readyz: whether this instance can serve. It
// checks that the store answers and has this program's schema, that the
// audit chain verified at start (a result remembered, not recomputed), and
// with -watch that every root still has a baseline. Each check is one
// cheap query.
type readiness struct {
	store      schemaStore
	auditOK    bool
	monitor    *integrity.Monitor // nil without -watch
	log        *slog.Logger
	mu         sync.Mutex
	lastStatus string // for logging changes only
}

// readyAnswer is the JSON of /healthz and /readyz.
type readyAnswer struct {
	Status string            `json:"status"` // "ok" or "not_ready"
	Checks map[string]string `json:"checks,omitempty"`
}

// check runs the checks; problems holds the details for the log.
func (rd *readiness) check(ctx context.Context) (a readyAnswer, problems []string) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	a = readyAnswer{Status: "ok", Checks: map[string]string{}}
	current, latest, err := rd.store.SchemaVersion(ctx)
	switch {
	case err != nil:
		a.Checks["store"], a.Checks["migrations"] = checkUnreachable, checkUnknown
		problems = append(problems, "store: "+err.Error())
	case current < latest:
		a.Checks["store"], a.Checks["migrations"] = checkOK, checkBehind
	case current > latest:
		a.Checks["store"], a.Checks["migrations"] = checkOK, checkNewer
	default:
		a.Checks["store"], a.Checks["migrations"] = checkOK, checkOK
	}
	a.Checks["audit"] = checkOK
	if !rd.auditOK {
		a.Checks["audit"] = checkTampered
	}
	if rd.monitor != nil {
		switch missing, err := rd.monitor.RootsWithoutBaseline(ctx); {
		case err != nil:
			a.Checks["baselines"] = checkUnknown
			problems = append(problems, "baselines: "+err.Error())
		case len(missing) > 0:
			a.Checks["baselines"] = checkMissing
			problems = append(problems, "no baseline for "+strings.Join(missing, ", "))
		default:
			a.Checks["baselines"] = checkOK
		}
	}
	for _, v := range a.Checks {
		if v != checkOK {
			a.Status = "not_ready"
		}
	}
	return a, problems
}

// ServeHTTP answers 200 when every check is ok and 503 otherwise, and logs
// when the answer changes.
func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, problems := rd.check(r.Context())
	rd.mu.Lock()
	changed := a.Status != rd.lastStatus
	rd.lastStatus = a.Status
	rd.mu.Unlock()
	if changed && a.Status != "ok" {
		rd.log.Warn("not ready", "checks", a.Checks, "problems", problems)
	} else if changed {
		rd.log.Info("ready")
	}
	code := http.StatusOK
	if a.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	writeProbe(w, code, a)
}

// registerHealth serves GET (and HEAD) /healthz, which answers 200 while
// the process serves HTTP at all, and /readyz (see [readiness]). Both are
// unauthenticated, outside /api/, and say nothing secret.
func registerHealth(mux *http.ServeMux, rd *readiness) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeProbe(w, http.StatusOK, readyAnswer{Status: "ok"})
	})
	mux.Handle("GET /readyz", rd)
}

func writeProbe(w http.ResponseWriter, code int, a readyAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}
