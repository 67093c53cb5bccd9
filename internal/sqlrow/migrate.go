package sqlrow

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
)

// Migration is one schema version: the file migrations/NNNN_name.sql of a
// store's embedded migrations.
type Migration struct {
	// Version is NNNN, counted from 1.
	Version int
	// Name is the file's name, without the directory.
	Name string
	// SQL is the file's text.
	SQL string
}

// LoadMigrations reads the files migrations/*.sql of fsys in version order.
// Each must be named NNNN_name.sql, numbered from 0001 without gaps.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names { // fs.Glob returns names sorted
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: want version %d", base, len(ms)+1)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(body)})
	}
	return ms, nil
}

// LatestVersion returns a function that gives the number of migrations
// in fsys (see [LoadMigrations]), the schema version a store of this
// program brings a database to; it reads fsys once.
func LatestVersion(fsys fs.FS) func() (int, error) {
	return sync.OnceValues(func() (int, error) {
		ms, err := LoadMigrations(fsys)
		return len(ms), err
	})
}
