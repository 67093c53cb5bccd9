package memstore_test

import (
	"testing"

	"github.com/propops/propsec/internal/storetest"
	"github.com/propops/propsec/memstore"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Store { return memstore.New() })
}
