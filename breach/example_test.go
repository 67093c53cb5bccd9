package breach_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/memstore"
)

// An offline corpus, built from the downloader's pwnedpasswords.txt, and
// checks against it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "propsec-example-")
	defer os.RemoveAll(dir)

	// Two lines of the real file (it has about a billion).
	txt := filepath.Join(dir, "pwnedpasswords.txt")
	os.WriteFile(txt, []byte(
		"21BD12DC183F740EE76F27B78EB39C8AD972A757:52579\r\n"+
			"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n"), 0o644)
	bin := filepath.Join(dir, "pwned.bin")
	if _, err := breach.Import(ctx, bin, txt, breach.ImportOptions{}); err != nil {
		fmt.Println(err)
		return
	}

	corpus, err := breach.OpenCorpus(bin)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer corpus.Close()
	store := memstore.New()
	chk, _ := breach.New(breach.Config{Source: corpus, Events: store})

	res, _ := chk.CheckPassword(ctx, "password")
	fmt.Println(res.Breached, res.Count)
	res, _ = chk.CheckPassword(ctx, "correct horse battery staple")
	fmt.Println(res.Breached, res.Count)

	r, _ := chk.Range(ctx, "21bd1") // what the endpoint serves for a prefix alone
	for e := range r.All() {
		fmt.Println(e.Suffix, e.Count)
	}

	events, _ := store.Events(ctx)
	fmt.Println(len(events), events[0].Type)
	// Output:
	// true 10434004
	// false 0
	// 2DC183F740EE76F27B78EB39C8AD972A757 52579
	// 1 password_breach_detected
}

// Validating the endpoint's parameters before any lookup.
func ExampleParsePrefix() {
	p, err := breach.ParsePrefix("21bd1")
	fmt.Println(p, err)
	_, err = breach.ParsePrefix("21BD")
	fmt.Println(err)
	// Output:
	// 21BD1 <nil>
	// hash_prefix: must be exactly 5 hexadecimal digits
}

// The importer names the line it refuses.
func ExampleImportReader() {
	dir, _ := os.MkdirTemp("", "propsec-example-")
	defer os.RemoveAll(dir)
	in := strings.NewReader("" +
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\n" +
		"21BD12DC183F740EE76F27B78EB39C8AD972A757:52579\n")
	_, err := breach.ImportReader(context.Background(), filepath.Join(dir, "pwned.bin"), in, breach.ImportOptions{})
	var fe *breach.FormatError
	fmt.Println(errors.As(err, &fe), fe.Line)
	fmt.Println(err)
	// Output:
	// true 2
	// line 2: not sorted: range 21BD1 after 5BAA6
}
