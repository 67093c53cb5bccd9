package envflag_test

import (
	"flag"
	"fmt"

	"github.com/propops/propsec/internal/envflag"
)

func ExampleApply() {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	db := fs.String("db", "propsec.db", "database")
	_ = fs.Parse([]string{"-addr", ":9000"})

	environment := map[string]string{"PROPSEC_ADDR": ":1", "PROPSEC_DB": "postgres://app:secret@db/propsec"}
	err := envflag.Apply(fs, "PROPSEC", func(k string) (string, bool) { v, ok := environment[k]; return v, ok })
	fmt.Println(*addr, *db, err)
	// Output: :9000 postgres://app:secret@db/propsec <nil>
}
