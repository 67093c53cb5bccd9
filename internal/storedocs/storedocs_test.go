package storedocs

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/pgstore"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// storeInterfaces is every interface of the domain packages that a store
// implements. Left out: security.Clock, breach.Source and
// integrity.ScanLease, which no store is, and integritytest.Store, a test
// helper's.
var storeInterfaces = map[string]reflect.Type{
	"session.Store":             reflect.TypeFor[session.Store](),
	"session.UserDirectory":     reflect.TypeFor[session.UserDirectory](),
	"session.PasswordUpdater":   reflect.TypeFor[session.PasswordUpdater](),
	"session.PasswordChanger":   reflect.TypeFor[session.PasswordChanger](),
	"session.SessionUserLoader": reflect.TypeFor[session.SessionUserLoader](),
	"session.VerificationStore": reflect.TypeFor[session.VerificationStore](),
	"session.FactorStore":       reflect.TypeFor[session.FactorStore](),
	"session.Locator":           reflect.TypeFor[session.Locator](),
	"security.EventRecorder":    reflect.TypeFor[security.EventRecorder](),
	"security.NonceStore":       reflect.TypeFor[security.NonceStore](),
	"security.SecretStore":      reflect.TypeFor[security.SecretStore](),
	"security.AuditLog":         reflect.TypeFor[security.AuditLog](),
	"security.AuditSource":      reflect.TypeFor[security.AuditSource](),
	"integrity.Store":           reflect.TypeFor[integrity.Store](),
	"integrity.HostStores":      reflect.TypeFor[integrity.HostStores](),
	"integrity.ScanLocker":      reflect.TypeFor[integrity.ScanLocker](),
	"report.Store":              reflect.TypeFor[report.Store](),
}

// mention finds a qualified interface name in a doc comment, in a doc
// link or not.
var mention = regexp.MustCompile(`\b(session|security|integrity|report)\.([A-Z][A-Za-z]*)\b`)

// TestPackageDocsListImplementedInterfaces: each store's package doc
// mentions every interface of storeInterfaces its Store implements, and
// none it does not.
func TestPackageDocsListImplementedInterfaces(t *testing.T) {
	stores := []struct {
		dir string
		typ reflect.Type
	}{
		{"../../memstore", reflect.TypeFor[*memstore.Store]()},
		{"../../sqlitestore", reflect.TypeFor[*sqlitestore.Store]()},
		{"../../pgstore", reflect.TypeFor[*pgstore.Store]()},
	}
	for _, st := range stores {
		t.Run(st.typ.String(), func(t *testing.T) {
			text := packageDoc(t, st.dir)
			mentioned := map[string]bool{}
			for _, m := range mention.FindAllString(text, -1) {
				if _, ok := storeInterfaces[m]; ok {
					mentioned[m] = true
				}
			}
			var missing, wrong []string
			for name, iface := range storeInterfaces {
				impl := st.typ.Implements(iface)
				switch {
				case impl && !mentioned[name]:
					missing = append(missing, name)
				case !impl && mentioned[name]:
					wrong = append(wrong, name)
				}
			}
			slices.Sort(missing)
			slices.Sort(wrong)
			if len(missing) > 0 {
				t.Errorf("the package doc of %s does not say it implements %s", st.dir, strings.Join(missing, ", "))
			}
			if len(wrong) > 0 {
				t.Errorf("the package doc of %s names %s, which it does not implement", st.dir, strings.Join(wrong, ", "))
			}
		})
	}
}

// packageDoc returns the package documentation of the package in dir: the
// doc comments of its package clauses.
func packageDoc(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			text += f.Doc.Text()
		}
	}
	if text == "" {
		t.Fatalf("%s has no package doc", dir)
	}
	return text
}
