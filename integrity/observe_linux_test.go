package integrity_test

import (
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

func (r *recorder) count(kind security.Kind, result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.got {
		if m.Kind == kind && m.Result == result {
			n++
		}
	}
	return n
}

func TestObserverSeesRealtime(t *testing.T) {
	obs := &recorder{}
	e := newEnv(t, rtFiles, func(c *integrity.Config) { c.Observer = obs })
	e.watch(time.Hour)
	before := e.mon.Realtime().Rechecks
	e.write("keep.txt", "changed\n")
	e.settle(before)
	if obs.count(security.KindRealtimeRecheck, "") == 0 {
		t.Error("no realtime_recheck measured after a re-check")
	}
	if !integrity.InjectOverflow(e.mon) {
		t.Fatal("not watching")
	}
	e.waitFor("the fallback scan", func() bool { return e.mon.Realtime().FullScans == 2 })
	if n := obs.count(security.KindRealtimeFallback, "overflow"); n != 1 {
		t.Errorf("%d overflow fallbacks measured, want 1", n)
	}
	if n := obs.count(security.KindRealtimeFallback, ""); n != 0 {
		t.Errorf("the first full scan of Run counted as a fallback %d times", n)
	}
}
