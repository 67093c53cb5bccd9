package storetest

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var createTable = regexp.MustCompile(`(?im)^\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)`)

// TablesAfter lists, newest first, the tables that the migrations of fsys
// (files migrations/NNNN_name.sql) numbered above version create: what a
// test drops to take a database back to that version. Newest first, since
// a later table may refer to an earlier one.
func TablesAfter(fsys fs.FS, version int) ([]string, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var tables []string
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return nil, err
		}
		if n <= version {
			continue
		}
		sql, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		for _, m := range createTable.FindAllSubmatch(sql, -1) {
			tables = append(tables, string(m[1]))
		}
	}
	slices.Reverse(tables)
	return tables, nil
}
