package integritysql

import (
	"iter"
	"slices"

	"github.com/propops/propsec/integrity"
)

// PageSize is how many rows one query of a root's entries or observations
// reads. Each page is a query of its own (keyset pagination: the rows after
// the last path yielded), so no connection and no read transaction stays
// open while the caller consumes the rows: writers never wait for a slow
// scan. sqlitestore's BenchmarkIntegrityEntries measured 2.6 µs an entry
// with pages of 64, 1.8 µs with 256, 1.7 µs with 1024 and 4096; a page of
// 1024 entries holds about 300 KB.
const PageSize = 1024

// Keyset yields the rows of one root in path order, pageSize rows per
// query: read appends to dst the first page when after is nil, else the
// page of rows whose path sorts after after, and path is the path of a
// row. It never yields a row twice or out of order; an iteration that runs
// across a commit may see some pages from before it and the rest from
// after it. An error of read is yielded once, passed through wrap.
func Keyset[T any](pageSize int, read func(dst []T, after []byte) ([]T, error), path func(*T) string,
	wrap func(error) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		page := make([]T, 0, pageSize)
		var after []byte
		for {
			var err error
			if page, err = read(page[:0], after); err != nil {
				yield(zero, wrap(err))
				return
			}
			for _, v := range page {
				if !yield(v, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			after = append([]byte{}, path(&page[len(page)-1])...)
		}
	}
}

// AlertOrder is the ORDER BY clause of the alert list order s, newest first
// for an unknown order. Each is served by an index on the alerts (see each
// store's migrations), ties broken by id.
func AlertOrder(s integrity.AlertSort) string {
	switch s {
	case integrity.SortCreatedAsc:
		return `created_at, id`
	case integrity.SortSeverityDesc:
		return `severity_rank DESC, created_at DESC, id DESC`
	}
	return `created_at DESC, id DESC`
}

// BulkIDs returns the ids of a bulk alert update once each, sorted.
func BulkIDs(ids []int64) []int64 {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Unknown returns the ids, sorted and without duplicates (see [BulkIDs]),
// that are not in found, sorted too.
func Unknown(ids, found []int64) []int64 {
	var unknown []int64
	for i, j := 0, 0; i < len(ids); i++ {
		if j < len(found) && found[j] == ids[i] {
			j++
		} else {
			unknown = append(unknown, ids[i])
		}
	}
	return unknown
}

// BulkResult is what a store's bulk alert update returns: how many of ids
// it changed (all, or none when some were unknown), the unknown ids, and
// its error.
func BulkResult(ids, unknown []int64, err error) (int, []int64, error) {
	switch {
	case err != nil:
		return 0, nil, err
	case len(unknown) > 0:
		return 0, unknown, nil
	}
	return len(ids), nil, nil
}
