package integrity_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "propsec-example-")
	defer os.RemoveAll(dir)
	index := filepath.Join(dir, "index.php")
	os.WriteFile(index, []byte("<?php\necho 'hello';\n"), 0o644)

	mon, err := integrity.New(integrity.Config{
		Store: memstore.New(),                              // or sqlitestore
		Key:   []byte("a 32-byte key from the host's KMS"), // never stored with the baseline
		Roots: []string{dir},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mon.Close()
	mon.Init(ctx) // baseline the roots that have none

	os.WriteFile(index, []byte("<?php\nsystem($_GET['c']);\n"), 0o644)
	check, _ := mon.Scan(ctx) // or mon.Start(ctx) for a background check
	fmt.Println(check.Status, check.ViolationsFound)

	alerts, total, _ := mon.Alerts(ctx, integrity.ListOptions{Severity: integrity.SeverityCritical})
	a := alerts[0]
	fmt.Println(total, a.Path, a.Type, a.Change, a.Severity)

	diff, _ := mon.Diff(ctx, a.ID)
	fmt.Print(diff.Text)
	fmt.Println(diff.LinesAdded, diff.LinesRemoved)
	// Output:
	// complete 1
	// 1 index.php file_integrity_violation modified critical
	// --- a/index.php
	// +++ b/index.php
	// @@ -1,2 +1,2 @@
	//  <?php
	// -echo 'hello';
	// +system($_GET['c']);
	// 1 1
}

func ExampleMonitor_BeginDeployment() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "propsec-example-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "app.js"), []byte("v1\n"), 0o644)
	mon, _ := integrity.New(integrity.Config{Store: memstore.New(), Key: make([]byte, 32), Roots: []string{dir}})
	defer mon.Close()
	mon.Init(ctx)

	// A deploy script opens a window, replaces files, and closes it.
	mon.BeginDeployment(ctx, integrity.Actor{}, "release 2.0")
	os.WriteFile(filepath.Join(dir, "app.js"), []byte("v2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "vendor.js"), []byte("lib\n"), 0o644)
	ended, _ := mon.EndDeployment(ctx, integrity.Actor{}) // app.js, vendor.js and their directory
	fmt.Println("accepted", ended.Accepted)

	check, _ := mon.Scan(ctx)
	fmt.Println("violations", check.ViolationsFound)
	// Output:
	// accepted 3
	// violations 0
}
