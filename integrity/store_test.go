package integrity_test

import (
	"testing"

	"github.com/propops/propsec/integrity/integritytest"
	"github.com/propops/propsec/memstore"
)

func TestMemstoreConformance(t *testing.T) {
	integritytest.Run(t, func(t *testing.T) integritytest.Store { return memstore.New() })
}
