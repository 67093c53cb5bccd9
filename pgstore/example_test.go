package pgstore_test

import (
	"context"
	"log"

	"github.com/propops/propsec/pgstore"
)

// Open a store shared by every instance of the host. The pool keeps its
// defaults unless the DSN sets pool_* parameters, as pool_max_conns here.
func ExampleOpen() {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, "postgres://propsec@db.internal:5432/propsec?pool_max_conns=16&search_path=propsec")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	n, err := st.CountUsers(ctx)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d users", n)
}
