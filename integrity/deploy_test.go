package integrity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

func TestCleanDescription(t *testing.T) {
	max := strings.Repeat("é", integrity.MaxDescriptionRunes) // 2 bytes each: the bound is in characters
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"release 1.2", "release 1.2", true},
		{"  \trelease 1.2\n ", "release 1.2", true},
		{max, max, true},
		{" " + max + " ", max, true},
		{"", "", false},
		{" \t\r\n ", "", false},
		{max + "é", "", false},
	} {
		got, err := integrity.CleanDescription(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("CleanDescription(%.20q…) = %.20q, %v", c.in, got, err)
		}
		if err != nil && (!isErr(err, security.ErrInvalid) || !strings.Contains(err.Error(), "description")) {
			t.Errorf("error %v does not name the description", err)
		}
	}
}

// BeginDeployment refuses a bad description before anything else, keeps
// a long one whole (cleaned of control characters, never cut), and names
// the open deployment when one is.
func TestBeginDeploymentDescription(t *testing.T) {
	e := newEnv(t, map[string]string{"a.txt": "a\n"})
	for _, bad := range []string{"", "   ", strings.Repeat("x", integrity.MaxDescriptionRunes+1)} {
		if _, err := e.mon.BeginDeployment(e.ctx, integrity.Actor{}, bad); !isErr(err, security.ErrInvalid) {
			t.Fatalf("%.20q: %v", bad, err)
		}
	}
	if _, open, err := e.mon.Deployment(e.ctx); open || err != nil {
		t.Fatalf("a refused begin opened a window: %v %v", open, err)
	}
	// Control characters take 6 bytes once cleaned: 500 of them still fit.
	long := strings.Repeat("\x01", integrity.MaxDescriptionRunes-1) + "!"
	d, err := e.mon.BeginDeployment(e.ctx, integrity.Actor{UserID: 7}, long)
	must(t, err)
	want := strings.Repeat(`\u0001`, integrity.MaxDescriptionRunes-1) + "!"
	if d.Description != want {
		t.Fatalf("description cut or not cleaned: %d bytes", len(d.Description))
	}
	_, err = e.mon.BeginDeployment(e.ctx, integrity.Actor{}, "again")
	var open *integrity.OpenDeploymentError
	if !asErr(err, &open) || !isErr(err, security.ErrConflict) || open.Open != d {
		t.Fatalf("begin while open: %v", err)
	}
}

// The history lists ended windows, the latest first, and only those.
func TestEndedDeployments(t *testing.T) {
	e := newEnv(t, map[string]string{"a.txt": "a\n"})
	if h, err := e.mon.EndedDeployments(e.ctx, 0); err != nil || len(h) != 0 {
		t.Fatalf("%v %v", h, err)
	}
	var ids []string
	for i := range 3 {
		d, err := e.mon.BeginDeployment(e.ctx, integrity.Actor{UserID: 1}, "release")
		must(t, err)
		ids = append(ids, d.ID)
		e.write("a.txt", strings.Repeat("a", i+2)+"\n")
		e.clock.Advance(time.Minute)
		ended, err := e.mon.EndDeployment(e.ctx, integrity.Actor{UserID: 2})
		must(t, err)
		if ended.ID != d.ID || ended.Accepted != 1 || ended.EndedByUserID != 2 || ended.ActorUserID != 1 ||
			!ended.EndedAt.Equal(d.StartedAt.Add(time.Minute)) {
			t.Fatalf("%+v", ended)
		}
	}
	_, err := e.mon.BeginDeployment(e.ctx, integrity.Actor{}, "still open")
	must(t, err)
	for limit, want := range map[int][]string{0: {ids[2], ids[1], ids[0]}, 2: {ids[2], ids[1]}, 1: {ids[2]}} {
		h, err := e.mon.EndedDeployments(e.ctx, limit)
		must(t, err)
		var got []string
		for _, d := range h {
			got = append(got, d.ID)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("limit %d: %v, want %v", limit, got, want)
		}
	}
	for _, bad := range []int{-1, integrity.MaxLimit + 1} {
		if _, err := e.mon.EndedDeployments(e.ctx, bad); !isErr(err, security.ErrInvalid) {
			t.Fatalf("limit %d: %v", bad, err)
		}
	}
}
