package httpadapter

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"github.com/propops/propsec/session"
)

// canonicalPositive is how an accepted user_id, page or limit is written:
// decimal, no sign, no leading zero.
var canonicalPositive = regexp.MustCompile(`^[1-9][0-9]*$`)

// FuzzSessionListQuery checks the query parsing of GET
// /api/security/sessions?action=list on any further parameters raw. It
// never panics; it accepts exactly the queries that are well formed, name
// only action, user_id, page and limit, each once, with user_id in
// [1, MaxInt64], page in [1, MaxInt32] and limit in [1, session.MaxListLimit]
// written as canonical decimals; what it accepts is the values sent (or the
// defaults page 1, limit session.DefaultListLimit, no user filter); and every
// refusal is a 400 invalid_request.
func FuzzSessionListQuery(f *testing.F) {
	for _, s := range []string{"", "user_id=42", "page=2&limit=50", "user_id=1&page=1&limit=1000", "limit=1001",
		"limit=0", "page=0", "page=2147483647", "page=2147483648", "user_id=9223372036854775807",
		"user_id=9223372036854775808", "user_id=-1", "user_id=+1", "user_id=01", "user_id=", "page=1&page=1",
		"action=list", "action=blacklist_list", "user=1", "%zz", "a;b", "limit=1e3", "page= 1", "user_id=4%32"} {
		f.Add(s)
	}
	allowed := map[string]bool{"action": true, "user_id": true, "page": true, "limit": true}
	bounds := map[string]int64{"user_id": math.MaxInt64, "page": math.MaxInt32, "limit": session.MaxListLimit}
	f.Fuzz(func(t *testing.T, raw string) {
		full := "action=list&" + raw // readSessions parses the list's parameters after action=list
		opts, err := sessionListQuery(full)

		// Whether it should be accepted, worked out without the parser.
		vals, perr := url.ParseQuery(full)
		want := perr == nil
		for k, v := range vals {
			if !allowed[k] || len(v) != 1 {
				want = false
				continue
			}
			if max, isNum := bounds[k]; isNum {
				n, err := strconv.ParseInt(v[0], 10, 64)
				if !canonicalPositive.MatchString(v[0]) || err != nil || n > max {
					want = false
				}
			}
		}
		if err != nil {
			if p := classify(err); p.status != http.StatusBadRequest || p.code != CodeInvalidRequest {
				t.Fatalf("%q: refused with %d %s (%v), want 400 %s", raw, p.status, p.code, err, CodeInvalidRequest)
			}
			if want {
				t.Fatalf("%q: refused a valid query: %v", raw, err)
			}
			return
		}
		if !want {
			t.Fatalf("%q: accepted an invalid query as %+v", raw, opts)
		}
		check := func(name string, got, def int64) {
			if v, ok := vals[name]; ok {
				if strconv.FormatInt(got, 10) != v[0] {
					t.Fatalf("%q: %s = %d, sent %q", raw, name, got, v[0])
				}
			} else if got != def {
				t.Fatalf("%q: %s = %d without the parameter, want %d", raw, name, got, def)
			}
			if got != def && (got < 1 || got > bounds[name]) {
				t.Fatalf("%q: %s = %d out of range", raw, name, got)
			}
		}
		check("user_id", opts.UserID, 0)
		check("page", int64(opts.Page), 1)
		check("limit", int64(opts.Limit), session.DefaultListLimit)
	})
}

// sessionListQuery parses a raw query string as GET
// /api/security/sessions?action=list does.
func sessionListQuery(raw string) (session.ListOptions, error) {
	q, err := queryValues(&http.Request{URL: &url.URL{RawQuery: raw}})
	if err != nil {
		return session.ListOptions{}, err
	}
	return parseSessionListQuery(q)
}
