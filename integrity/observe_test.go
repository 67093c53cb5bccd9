package integrity_test

import (
	"sync"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

type recorder struct {
	mu  sync.Mutex
	got []security.Measurement
}

func (r *recorder) Observe(m security.Measurement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
}

func TestObserverSeesScans(t *testing.T) {
	obs := &recorder{}
	e := newEnv(t, map[string]string{"a.txt": "a\n", "b/c.txt": "c\n", "b/d.txt": "d\n"},
		func(c *integrity.Config) { c.Observer = obs })
	if len(obs.got) != 0 {
		t.Fatalf("the baseline of Init is not a scan: %+v", obs.got)
	}
	e.scan()
	e.write("e.txt", "e\n")
	e.scan()
	if len(obs.got) != 2 {
		t.Fatalf("want 2 measurements, got %+v", obs.got)
	}
	for i, wantN := range []int64{3, 4} {
		m := obs.got[i]
		if m.Kind != security.KindScan || m.Result != "ok" || m.N < wantN {
			t.Errorf("scan %d: %+v, want an ok scan of at least %d files", i, m, wantN)
		}
	}
}
