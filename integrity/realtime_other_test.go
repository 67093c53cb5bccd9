//go:build !linux

package integrity_test

import (
	"errors"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
)

func TestRealtimeUnsupported(t *testing.T) {
	_, err := integrity.New(integrity.Config{Store: memstore.New(), Key: testKey, Roots: []string{t.TempDir()},
		Realtime: true})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("New with Realtime: %v", err)
	}
}
