package integrity

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/propops/propsec/integrity/internal/fsmeta"
)

// SetReadHook sets a function the Monitor calls after each read of a file
// (pass 1, and pass 2 when the file changed while it was read).
func SetReadHook(m *Monitor, f func(path string, pass int)) { m.hook = f }

// SetOpenHook sets a function the Monitor calls just before it opens a file
// or directory it found in a listing (or, for a file, examined with
// fstatat), with its absolute path. Workers call it concurrently.
func SetOpenHook(m *Monitor, f func(path string)) { m.openHook = f }

// SetDeferredFindings sets how many findings a scan holds back before it
// verifies the whole baseline in a pass of its own; it returns what undoes
// it. Not for parallel tests.
func SetDeferredFindings(n int) (restore func()) {
	old := deferredFindings
	deferredFindings = n
	return func() { deferredFindings = old }
}

func TestMain(m *testing.M) {
	if !fsmeta.Supported {
		fmt.Println("skipped: file monitoring is not supported on", runtime.GOOS)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Legacy returns e as it was recorded before Meta existed, with the MAC
// m would have given it.
func Legacy(m *Monitor, e Entry) Entry {
	e.Meta, e.Links, e.XAttrs = false, 0, nil
	e.MAC = m.keys.entryMAC(&e)
	return e
}

// SealSum returns the seal m computes over root's entries, in path order.
func SealSum(m *Monitor, root string, entries []Entry) Hash {
	s := m.keys.newSealer(root)
	for _, e := range entries {
		s.Add(e.MAC)
	}
	return s.Sum()
}
