package integrity_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
)

func TestHostDefaultsToHostname(t *testing.T) {
	e := newEnv(t, map[string]string{"a.php": "1"})
	want, err := os.Hostname()
	must(t, err)
	e.write("a.php", "2")
	as := e.scan()
	if len(as) != 1 || as[0].Host != want {
		t.Fatalf("alerts %+v, want one of host %q", as, want)
	}
	c, err := e.mon.Progress(e.ctx, as[0].CheckID)
	must(t, err)
	if c.Host != want {
		t.Fatalf("check of host %q, want %q", c.Host, want)
	}
}

func TestHostIsChecked(t *testing.T) {
	for _, host := range []string{" ", "web\n1", "web\x00", "\xff", strings.Repeat("h", integrity.MaxHostBytes+1)} {
		_, err := integrity.New(integrity.Config{Store: memstore.New(), Host: host, Key: testKey, Roots: []string{t.TempDir()}})
		var inv *security.InvalidError
		if !asErr(err, &inv) || inv.Field != "Host" {
			t.Errorf("host %q: %v", host, err)
		}
	}
}

// Accepting and diffing an alert need its files, which are on the host
// that raised it.
func TestAlertOfAnotherHost(t *testing.T) {
	e := newEnv(t, map[string]string{"a.php": "1\n"}, func(c *integrity.Config) { c.Host = "web-a" })
	e.write("a.php", "2\n")
	a := e.scan()[0]
	if a.Host != "web-a" {
		t.Fatalf("alert of host %q", a.Host)
	}
	cfg := e.cfg
	cfg.Host = "web-b"
	other, err := integrity.New(cfg)
	must(t, err)
	defer other.Close()
	var oh *integrity.OtherHostError
	if _, err := other.Diff(e.ctx, a.ID); !asErr(err, &oh) || oh.Host != "web-a" || oh.AlertID != a.ID || !isErr(err, security.ErrConflict) {
		t.Fatalf("diff on another host: %v", err)
	}
	if err := other.AcceptAlert(e.ctx, integrity.Actor{}, a.ID); !asErr(err, &oh) {
		t.Fatalf("accept on another host: %v", err)
	}
	if _, err := e.mon.Diff(e.ctx, a.ID); err != nil {
		t.Fatalf("diff on its host: %v", err)
	}
	// An alert stored before alerts had a host is taken as this host's.
	ids, err := e.store.SaveFindings(e.ctx, integrity.Findings{Alerts: []integrity.Alert{{Key: a.Key,
		FilePath: a.FilePath, Type: integrity.AlertViolation, Change: integrity.ChangeModified, State: a.State}}})
	must(t, err)
	if _, err := other.Diff(e.ctx, ids[0]); err != nil {
		t.Fatalf("diff of an alert without a host: %v", err)
	}
}

// lockingStore is a store shared with other processes: its ScanLocker is a
// fake whose lock another process may hold.
type lockingStore struct {
	integrity.Store
	mu       sync.Mutex
	held     bool   // by this Monitor
	other    string // a check another process runs, "-" for none
	records  []integrity.Check
	failNext bool // the next Record fails
	released int
	recorded map[string]integrity.Check // checks of other processes
}

func (s *lockingStore) LockScan(_ context.Context, c integrity.Check, _ bool) (integrity.ScanLease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.other != "" {
		id := s.other
		if id == "-" {
			id = ""
		}
		return nil, &integrity.BusyError{CheckID: id, Host: "web-1"}
	}
	if s.held {
		return nil, errors.New("taken twice")
	}
	s.held = true
	if c.ID != "" {
		s.records = append(s.records, c)
	}
	return lease{s}, nil
}

func (s *lockingStore) RecordedCheck(_ context.Context, id string) (integrity.Check, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.recorded[id]; ok {
		return c, nil
	}
	return integrity.Check{}, security.ErrNotFound
}

type lease struct{ s *lockingStore }

func (l lease) Record(_ context.Context, c integrity.Check) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.s.held {
		return errors.New("record after release")
	}
	if l.s.failNext {
		l.s.failNext = false
		return errors.New("connection lost")
	}
	l.s.records = append(l.s.records, c)
	return nil
}

func (l lease) Release(context.Context) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.s.held = false
	l.s.released++
	return nil
}

func newLockingStore() *lockingStore {
	return &lockingStore{Store: memstore.New(), recorded: map[string]integrity.Check{}}
}

func TestMonitorTakesTheStoreLock(t *testing.T) {
	st := newLockingStore()
	e := newEnv(t, map[string]string{"a.php": "1"}, func(c *integrity.Config) { c.Store = st; c.Host = "web-1" })

	// Another process runs a check: Start reports it.
	st.mu.Lock()
	st.other = "chk_aaaaaaaaaaaaaaaaaaaa"
	st.recorded[st.other] = integrity.Check{ID: st.other, Host: "web-1", Status: integrity.CheckRunning, StartedAt: e.clock.Now().UTC()}
	st.mu.Unlock()
	id, err := e.mon.Start(e.ctx)
	var busy *integrity.BusyError
	if id != "chk_aaaaaaaaaaaaaaaaaaaa" || !asErr(err, &busy) || !isErr(err, security.ErrConflict) {
		t.Fatalf("start while another process scans: %q %v", id, err)
	}
	e.clock.Advance(3 * time.Second)
	c, err := e.mon.Progress(e.ctx, id)
	must(t, err)
	if c.Status != integrity.CheckRunning || c.Duration != 3*time.Second {
		t.Fatalf("progress of the other process's check: %+v", c)
	}
	// Another process holds the lock for no check.
	st.mu.Lock()
	st.other = "-"
	st.mu.Unlock()
	if id, err := e.mon.Start(e.ctx); id != "" || !isErr(err, security.ErrConflict) {
		t.Fatalf("start while another process accepts an alert: %q %v", id, err)
	}
	st.mu.Lock()
	st.other = ""
	st.records = nil
	st.mu.Unlock()

	// A scan is recorded when it starts, and when it ends; the lock is
	// released.
	e.write("a.php", "2")
	c, err = e.mon.Scan(e.ctx)
	must(t, err)
	st.mu.Lock()
	records, held := st.records, st.held
	st.mu.Unlock()
	if held || len(records) < 2 || records[0].ID != c.ID || records[0].Status != integrity.CheckRunning ||
		records[0].Host != "web-1" {
		t.Fatalf("records %+v, held %v", records, held)
	}
	if last := records[len(records)-1]; last.Status != integrity.CheckComplete || last.ViolationsFound != 1 || last.ID != c.ID {
		t.Fatalf("last record %+v", last)
	}

	// A check whose record fails has lost its lock: it fails.
	st.mu.Lock()
	st.failNext = true
	st.mu.Unlock()
	c, err = e.mon.Scan(e.ctx)
	if err == nil || c.Status != integrity.CheckFailed || !strings.Contains(c.Error, "connection lost") {
		t.Fatalf("scan whose lease failed: %+v %v", c, err)
	}
	// Accepting an alert holds the lock too, for no check.
	as := e.allAlerts()
	st.mu.Lock()
	st.records = nil
	released := st.released
	st.mu.Unlock()
	must(t, e.mon.AcceptAlert(e.ctx, integrity.Actor{}, as[0].ID))
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.held || st.released != released+1 || len(st.records) != 0 {
		t.Fatalf("accept: held %v, released %d → %d, records %+v", st.held, released, st.released, st.records)
	}
}
