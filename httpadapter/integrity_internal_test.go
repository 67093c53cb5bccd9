package httpadapter

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

func TestIntListField(t *testing.T) {
	for raw, want := range map[string][]int64{
		`[]`:                                 {},
		`[1]`:                                {1},
		`[ 1 , 2,3 ]`:                        {1, 2, 3},
		"[\n7,\t-8, 0]":                      {7, -8, 0},
		`[9223372036854775807]`:              {9223372036854775807},
		`[-9223372036854775808]`:             {-9223372036854775808},
		`[1,1,1]`:                            {1, 1, 1},
		"[" + strings.Repeat("5,", 9) + "5]": slices.Repeat([]int64{5}, 10),
	} {
		t.Run(raw, func(t *testing.T) {
			var got []int64
			o, err := parseObject([]byte(`{"ids":` + raw + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if err := o.bind(intListField("ids", &got, 10, true)); err != nil {
				t.Fatal(err)
			}
			if got == nil || !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	for raw, want := range map[string]string{
		`null`:                                "array",
		`1`:                                   "array",
		`"[1]"`:                               "array",
		`{"a":1}`:                             "array",
		`true`:                                "array",
		`[1.0]`:                               "array",
		`[1.5]`:                               "array",
		`[1e3]`:                               "array",
		`[1E3]`:                               "array",
		`[-1.0]`:                              "array",
		`["1"]`:                               "array",
		`[null]`:                              "array",
		`[true]`:                              "array",
		`[[1]]`:                               "array",
		`[1,[2]]`:                             "array",
		`[{"id":1}]`:                          "array",
		`[9223372036854775808]`:               "out of range",
		`[-9223372036854775809]`:              "out of range",
		"[" + strings.Repeat("5,", 10) + "5]": "at most 10",
	} {
		t.Run(raw, func(t *testing.T) {
			var got []int64
			o, err := parseObject([]byte(`{"ids":` + raw + `}`))
			if err != nil {
				t.Fatal(err)
			}
			err = o.bind(intListField("ids", &got, 10, true))
			var ie *security.InvalidError
			if !errors.As(err, &ie) || ie.Field != "ids" || !strings.Contains(ie.Reason, want) || got != nil {
				t.Fatalf("err %v (want %q), got %v", err, want, got)
			}
		})
	}
	t.Run("required", func(t *testing.T) {
		var got []int64
		o, _ := parseObject([]byte(`{}`))
		if err := o.bind(intListField("ids", &got, 10, true)); err == nil {
			t.Fatal("accepted a missing required list")
		}
		if err := o.bind(intListField("ids", &got, 10, false)); err != nil || got != nil {
			t.Fatalf("optional: %v %v", err, got)
		}
	})
}

// alertQuery parses a raw query string as the alert list does.
func alertQuery(raw string) (integrity.ListOptions, error) {
	q, err := queryValues(&http.Request{URL: &url.URL{RawQuery: raw}})
	if err != nil {
		return integrity.ListOptions{}, err
	}
	return parseAlertQuery(q)
}

func TestParseAlertQuery(t *testing.T) {
	st := func(s integrity.Status) *integrity.Status { return &s }
	for raw, want := range map[string]integrity.ListOptions{
		"": {Sort: integrity.SortCreatedDesc, Page: 1, Limit: 25},
		"status=2&severity=low&sortBy=severity_desc&page=1073741824&limit=100": {Status: st(2),
			Severity: integrity.SeverityLow, Sort: integrity.SortSeverityDesc, Page: 1 << 30, Limit: 100},
		"limit=1&status=0": {Status: st(0), Sort: integrity.SortCreatedDesc, Page: 1, Limit: 1},
		"sortBy=created_at_asc&severity=high&status=1": {Status: st(1), Severity: integrity.SeverityHigh,
			Sort: integrity.SortCreatedAsc, Page: 1, Limit: 25},
		"severity=crit%69cal": {Severity: integrity.SeverityCritical, Sort: integrity.SortCreatedDesc, Page: 1, Limit: 25},
	} {
		t.Run(raw, func(t *testing.T) {
			got, err := alertQuery(raw)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Status == nil) != (want.Status == nil) || (got.Status != nil && *got.Status != *want.Status) {
				t.Fatalf("status %v, want %v", got.Status, want.Status)
			}
			got.Status, want.Status = nil, nil
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

// FuzzAlertListQuery checks that parsing never panics and accepts only
// allow-listed parameters, each once, with allow-listed values, and that
// what it accepts reads back as the raw value sent.
func FuzzAlertListQuery(f *testing.F) {
	for _, s := range []string{"", "status=0", "status=1&severity=critical", "sortBy=severity_desc&page=2&limit=100",
		"page=1073741824", "page=1073741825", "limit=0", "limit=101", "status=3", "status=0&status=0", "severity=Critical",
		"%zz", "a;b", "sortBy=created_at_asc&x=1", "page=01", "limit=+1", "status=%30", "page=9999999999999999999999",
		"severity=medium&sortBy=created_at_desc&status=2&page=1&limit=25"} {
		f.Add(s)
	}
	allowed := map[string]bool{"status": true, "severity": true, "sortBy": true, "page": true, "limit": true}
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := alertQuery(raw)
		if err != nil {
			if !errors.Is(err, security.ErrInvalid) {
				t.Fatalf("%q: error %v is not a 400", raw, err)
			}
			return
		}
		vals, perr := url.ParseQuery(raw)
		if perr != nil {
			t.Fatalf("%q: accepted a malformed query", raw)
		}
		for k, v := range vals {
			if !allowed[k] || len(v) != 1 {
				t.Fatalf("%q: accepted parameter %q = %q", raw, k, v)
			}
		}
		one := func(k string) (string, bool) {
			v, ok := vals[k]
			if !ok {
				return "", false
			}
			return v[0], true
		}
		if v, ok := one("status"); ok != (o.Status != nil) || (ok && (!o.Status.Valid() || strconv.Itoa(int(*o.Status)) != v)) {
			t.Fatalf("%q: status %v", raw, o.Status)
		}
		if v, ok := one("severity"); (ok && (!o.Severity.Valid() || string(o.Severity) != v)) || (!ok && o.Severity != "") {
			t.Fatalf("%q: severity %q", raw, o.Severity)
		}
		if v, ok := one("sortBy"); !o.Sort.Valid() || (ok && string(o.Sort) != v) || (!ok && o.Sort != integrity.SortCreatedDesc) {
			t.Fatalf("%q: sort %q", raw, o.Sort)
		}
		if v, ok := one("page"); o.Page < 1 || o.Page > 1<<30 || (ok && strconv.Itoa(o.Page) != v) || (!ok && o.Page != 1) {
			t.Fatalf("%q: page %d", raw, o.Page)
		}
		if v, ok := one("limit"); o.Limit < 1 || o.Limit > integrity.MaxLimit || (ok && strconv.Itoa(o.Limit) != v) ||
			(!ok && o.Limit != integrity.DefaultLimit) {
			t.Fatalf("%q: limit %d", raw, o.Limit)
		}
	})
}
