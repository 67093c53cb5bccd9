package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/propops/propsec/security"
)

// fuzzFields is the contract FuzzDecodeBody holds the decoder to: these
// members, these types, action required.
type fuzzResult struct {
	action, reason, csrf string
	userID               int64
}

func decodeFuzz(body []byte) (fuzzResult, error) {
	var r fuzzResult
	o, err := parseObject(body)
	if err != nil {
		return r, err
	}
	err = o.bind(stringField("action", &r.action, true), intField("user_id", &r.userID, false),
		stringField("reason", &r.reason, false), stringField("csrf_token", &r.csrf, false))
	return r, err
}

var fuzzStrings = map[string]bool{"action": true, "reason": true, "csrf_token": true}

// topLevelNames lists the member names of the top-level object by walking
// every token, independently of parseObject's way.
func topLevelNames(t *testing.T, body []byte) []string {
	type frame struct{ object, expectName bool }
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectName = true
		}
	}
	var names []string
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("accepted %q, which the token walk rejects: %v", body, err)
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{object: true, expectName: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:top]
				valueDone()
			}
			continue
		}
		if top >= 0 && stack[top].object && stack[top].expectName {
			if top == 0 {
				names = append(names, tok.(string))
			}
			stack[top].expectName = false
			continue
		}
		valueDone()
	}
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"action":"terminate"}`,
		`{"action":"blacklist_add","user_id":55,"reason":"Suspicious login activity detected","csrf_token":"ab"}`,
		`{"action":"x","action":"y"}`,
		`{"action":"x","\u0061ction":"y"}`,
		`{"action":"x","Action":"y"}`,
		`{"action":"x","ACTION":"y"}`,
		`{"action":"x","csrf_to\u212aen":"y"}`,
		`{"action":"x","user_id":"5"}`,
		`{"action":"x","user_id":5.0}`,
		`{"action":"x","user_id":5e3}`,
		`{"action":"x","user_id":-0}`,
		`{"action":"x","user_id":007}`,
		`{"action":"x","user_id":null}`,
		`{"action":"x","user_id":9223372036854775808}`,
		`{"action":"x","user_id":-9223372036854775808}`,
		`{"action":"x","reason":5}`,
		`{"action":"x","reason":{"a":[1,{"b":null}]}}`,
		`{"action":"x"} {}`,
		`{"action":"x"}]`,
		`{"action":"x",}`,
		`{"action":"x" "reason":"y"}`,
		`{"action":"x"`,
		`[{"action":"x"}]`,
		`null`,
		``,
		" \t\n{\"action\" : \"x\" } \n",
		"{\"action\":\"\xff\"}",
		"{\"action\":\"\\ud800\"}",
		"\ufeff{\"action\":\"x\"}",
		`{"action":"x","extra":true}`,
		`{"":"x","action":"y"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeFuzz(body)
		if err != nil {
			if !errors.Is(err, security.ErrInvalid) {
				t.Fatalf("%q: error %v does not wrap ErrInvalid", body, err)
			}
			return
		}
		// Accepted: check the contract independently.
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted invalid UTF-8 or JSON: %q", body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil || m == nil {
			t.Fatalf("accepted %q, which is not one JSON object: %v", body, err)
		}
		names := topLevelNames(t, body)
		if len(names) != len(m) {
			t.Fatalf("accepted %q with duplicate members %v", body, names)
		}
		for i, a := range names {
			for _, b := range names[i+1:] {
				if strings.EqualFold(a, b) {
					t.Fatalf("accepted %q with names %q and %q equal but for case", body, a, b)
				}
			}
		}
		if _, ok := m["action"]; !ok {
			t.Fatalf("accepted %q without action", body)
		}
		for name, raw := range m {
			switch {
			case fuzzStrings[name]:
				var s string
				if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
					t.Fatalf("accepted %q: %s is not a string", body, name)
				}
				want := map[string]string{"action": got.action, "reason": got.reason, "csrf_token": got.csrf}[name]
				if s != want {
					t.Fatalf("%q: %s decoded as %q, want %q", body, name, want, s)
				}
			case name == "user_id":
				if bytes.ContainsAny(raw, ".eE") {
					t.Fatalf("accepted %q: user_id %s is not an integer literal", body, raw)
				}
				n, err := strconv.ParseInt(string(raw), 10, 64)
				if err != nil || n != got.userID {
					t.Fatalf("accepted %q: user_id %s decoded as %d (%v)", body, raw, got.userID, err)
				}
			default:
				t.Fatalf("accepted %q with unknown member %q", body, name)
			}
		}
		// What was decoded, written back canonically, is accepted again.
		again := map[string]any{"action": got.action}
		if _, ok := m["user_id"]; ok {
			again["user_id"] = got.userID
		}
		if _, ok := m["reason"]; ok {
			again["reason"] = got.reason
		}
		canon, _ := json.Marshal(again)
		if back, err := decodeFuzz(canon); err != nil || back.action != got.action || back.userID != got.userID || back.reason != got.reason {
			t.Fatalf("round trip of %q through %s: %+v, %v", body, canon, back, err)
		}
	})
}

func TestDecodeBody(t *testing.T) {
	for _, c := range []struct {
		body string
		want fuzzResult
		err  string // substring of the error; "" means accepted
	}{
		{body: `{"action":"a","user_id":55,"reason":"r","csrf_token":"c"}`, want: fuzzResult{action: "a", userID: 55, reason: "r", csrf: "c"}},
		{body: " {\"action\" : \"a\"}\n", want: fuzzResult{action: "a"}},
		{body: `{"action":"a","user_id":-9223372036854775808}`, want: fuzzResult{action: "a", userID: -9223372036854775808}},
		{body: `{"action":"\u00e9"}`, want: fuzzResult{action: "é"}},
		{body: `{"action":"a","user_id":9223372036854775808}`, err: "user_id: is out of range"},
		{body: `{"action":"a","user_id":-0.0}`, err: "user_id: must be an integer"},
		{body: `{"action":"a","user_id":01}`, err: "JSON"},
		{body: `{"action":"a","action":"a"}`, err: `"action" appears more than once`},
		{body: `{"reason":"a","REASON":"a","action":"a"}`, err: "differ only in case"},
		{body: `{"action":"a","reaſon":"x"}`, err: `use "reason"`},
		{body: `{"action":"a","x":1}`, err: `"x": unknown field`},
		{body: `{"user_id":1}`, err: "action: is required"},
		{body: `{"action":"a"}{"action":"a"}`, err: "after the JSON object"},
		{body: `{"action":"a"}null`, err: "after the JSON object"},
		{body: "{\"action\":\"a\"}\x00", err: "JSON"},
		{body: `{"action":"` + strings.Repeat("\x01", 3) + `"}`, err: "JSON"},
	} {
		got, err := decodeFuzz([]byte(c.body))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.body, err)
		case c.err == "" && got != c.want:
			t.Errorf("%q: %+v, want %+v", c.body, got, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one containing %q", c.body, err, c.err)
		}
	}
}

func TestFoldNameMatchesEqualFold(t *testing.T) {
	names := []string{"k", "K", "\u212a", "s", "S", "\u017f", "ß", "ẞ", "σ", "Σ", "ς", "action", "ACTION", "Action", "acti\u00f6n"}
	for _, a := range names {
		for _, b := range names {
			if (foldName(a) == foldName(b)) != strings.EqualFold(a, b) {
				t.Errorf("%q, %q: foldName and EqualFold disagree", a, b)
			}
		}
	}
}

func TestErrorMessagesHideSyntaxDetails(t *testing.T) {
	// encoding/json's own message would quote the offending character,
	// here one of a password.
	_, err := decodeFuzz([]byte(`{"action":"a","reason":"secret\q"}`))
	if err == nil || !strings.HasPrefix(err.Error(), "request body is not valid JSON (at byte ") || strings.Contains(err.Error(), "'") {
		t.Fatalf("%v", err)
	}
}
