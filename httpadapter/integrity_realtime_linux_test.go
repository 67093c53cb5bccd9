package httpadapter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
)

// TestIntegrityRealtimeAlertListedWithoutCheck: with real-time detection,
// a change is listed by GET /api/security/file-integrity-alerts without
// anyone running a check, and its check_id is the realtime check's, whose
// progress the API reports.
func TestIntegrityRealtimeAlertListedWithoutCheck(t *testing.T) {
	f := newFIMWith(t, func(c *integrity.Config) { c.Realtime = true })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.mon.Run(ctx, time.Hour) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	poll := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	poll("the watching", func() bool { s := f.mon.Realtime(); return s.Watching && s.FullScans >= 1 })
	rtID := f.mon.Realtime().CheckID
	if got := f.alerts("").list(); len(got) != 0 {
		t.Fatalf("alerts before any change: %v", got)
	}
	f.write("index.php", "<?php system($_GET['c']);\n")
	var a map[string]any
	poll("the alert listed", func() bool {
		a = f.byPath(f.alerts(""))["index.php"]
		return a != nil
	})
	if a["alert_type"] != "file_integrity_violation" || a["change"] != "modified" || a["severity"] != "critical" ||
		a["check_id"] != rtID || a["host"] != "web-1" {
		t.Fatalf("alert: %v", a)
	}
	p := f.progress(rtID)
	p.ok(t, "Check progress retrieved")
	if p.data()["status"] != "running" {
		t.Fatalf("realtime check progress: %s", p.raw)
	}
}
