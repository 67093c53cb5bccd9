package integrity

import (
	"testing"

	"github.com/propops/propsec/integrity/internal/fsmeta"
)

// Every kind of path fsmeta records has its own FileType.
func TestFileTypes(t *testing.T) {
	seen := map[FileType]bool{}
	for k := fsmeta.TypeFile; k <= fsmeta.TypeCharDevice; k++ {
		ft := fileTypes[k]
		if !ft.Valid() || seen[ft] {
			t.Errorf("fsmeta kind %d is %q", k, ft)
		}
		seen[ft] = true
	}
	if len(seen) != len(fileTypes) {
		t.Errorf("%d kinds named, %d names", len(seen), len(fileTypes))
	}
}
