package breach_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/security"
)

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"21BD1", "21BD1", true},
		{"21bd1", "21BD1", true},
		{"aBcDe", "ABCDE", true},
		{"00000", "00000", true},
		{"FFFFF", "FFFFF", true},
		{"", "", false},
		{"21BD", "", false},
		{"21BD12", "", false},
		{"21BG1", "", false},
		{"21 D1", "", false},
		{"21BD\n", "", false},
		{"２1BD1", "", false}, // fullwidth digit
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := breach.ParsePrefix(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("ParsePrefix(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var ie *security.InvalidError
			if !errors.As(err, &ie) || ie.Field != "hash_prefix" || !errors.Is(err, security.ErrInvalid) {
				t.Fatalf("ParsePrefix(%q) error = %v; want an InvalidError for hash_prefix", tt.in, err)
			}
		})
	}
}

func TestParseSuffix(t *testing.T) {
	const s = "2DC183F740EE76F27B78EB39C8AD972A757"
	tests := []struct {
		in, want string
		ok       bool
	}{
		{s, s, true},
		{strings.ToLower(s), s, true},
		{s[:34], "", false},
		{s + "0", "", false},
		{s[:34] + "G", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := breach.ParseSuffix(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("ParseSuffix(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, security.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	tests := map[string]string{
		"password": "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
		"P@ssw0rd": "21BD12DC183F740EE76F27B78EB39C8AD972A757",
		"":         "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
	}
	for pw, want := range tests {
		if got := breach.HashPassword(pw); got != want {
			t.Errorf("HashPassword(%q) = %s, want %s", pw, got, want)
		}
	}
}

const (
	sufA = "0018A45C4D1DEF81644B54AB7F969B88D65"
	sufB = "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"
	sufC = "011053FD0102E94D6AE2F8B83D76FAF94F6"
)

func TestParseRange(t *testing.T) {
	type entry = breach.Entry
	tests := []struct {
		name string
		kind breach.HashKind
		body string
		want []entry
		err  string // substring of the error; "" for success
	}{
		{name: "crlf", body: sufA + ":1\r\n" + sufB + ":3\r\n" + sufC + ":52579\r\n",
			want: []entry{{sufA, 1}, {sufB, 3}, {sufC, 52579}}},
		{name: "lf", body: sufA + ":1\n" + sufB + ":3\n",
			want: []entry{{sufA, 1}, {sufB, 3}}},
		{name: "no final newline", body: sufA + ":1\r\n" + sufB + ":3",
			want: []entry{{sufA, 1}, {sufB, 3}}},
		{name: "lowercase suffix", body: strings.ToLower(sufA) + ":7",
			want: []entry{{sufA, 7}}},
		{name: "padding dropped", body: sufA + ":0\r\n" + sufB + ":2\r\n" + sufC + ":0\r\n",
			want: []entry{{sufB, 2}}},
		{name: "only padding", body: sufA + ":0\r\n", want: []entry{}},
		{name: "unsorted is sorted", body: sufC + ":1\n" + sufA + ":2\n" + sufB + ":3\n",
			want: []entry{{sufA, 2}, {sufB, 3}, {sufC, 1}}},
		{name: "large counts", body: sufA + ":1048574\n" + sufB + ":1048575\n" + sufC + ":9223372036854775807\n",
			want: []entry{{sufA, 1048574}, {sufB, 1048575}, {sufC, 9223372036854775807}}},
		{name: "ntlm", kind: breach.NTLM, body: "0000B3D6BE3E2A3D0F8AD4B4A1C:12\r\n",
			want: []entry{{"0000B3D6BE3E2A3D0F8AD4B4A1C", 12}}},

		{name: "empty body", body: "", err: "empty range body"},
		{name: "empty line", body: sufA + ":1\r\n\r\n" + sufB + ":2", err: "line 2: empty line"},
		{name: "blank line at end", body: sufA + ":1\n\n", err: "line 2: empty line"},
		{name: "short suffix", body: sufA[1:] + ":1", err: "line 1: not SUFFIX:COUNT"},
		{name: "long suffix", body: sufA + "0:1", err: "line 1: not SUFFIX:COUNT"},
		{name: "no colon", body: sufA + "1", err: "line 1: not SUFFIX:COUNT"},
		{name: "no count", body: sufA + ":", err: "line 1: not SUFFIX:COUNT"},
		{name: "non-hex suffix", body: sufA[:34] + "X:1", err: "line 1: suffix is not hexadecimal"},
		{name: "negative count", body: sufA + ":-1", err: "line 1: count is not"},
		{name: "count with space", body: sufA + ": 1", err: "line 1: count is not"},
		{name: "trailing space", body: sufA + ":1 \r\n", err: "line 1: count is not"},
		{name: "count overflow", body: sufA + ":9223372036854775808", err: "line 1: count is not"},
		{name: "count too long", body: sufA + ":00000000000000000001", err: "line 1: count is not"},
		{name: "truncated line", body: sufA + ":1\r\n" + sufB[:20], err: "line 2: not SUFFIX:COUNT"},
		{name: "html", body: "<html><body>oops</body></html>", err: "line 1: not SUFFIX:COUNT"},
		{name: "duplicate", body: sufA + ":1\n" + sufA + ":2\n", err: "line 2: suffix repeated"},
		{name: "duplicate unsorted", body: sufB + ":1\n" + sufA + ":1\n" + sufB + ":2\n", err: "suffix repeated"},
		{name: "sha1 body for ntlm", kind: breach.NTLM, body: sufA + ":1", err: "not SUFFIX:COUNT with a 27-digit suffix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.kind
			if kind == 0 {
				kind = breach.SHA1
			}
			r, err := breach.ParseRange(kind, "21bd1", []byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				if !errors.Is(err, security.ErrInvalid) {
					t.Fatalf("err %v does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Prefix() != "21BD1" || r.Kind() != kind {
				t.Fatalf("prefix %s kind %s", r.Prefix(), r.Kind())
			}
			got := r.Entries()
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("entries = %v\nwant %v", got, tt.want)
			}
			for _, e := range tt.want {
				if c := r.Count(e.Suffix); c != e.Count {
					t.Errorf("Count(%s) = %d, want %d", e.Suffix, c, e.Count)
				}
				if c := r.Count(strings.ToLower(e.Suffix)); c != e.Count {
					t.Errorf("Count(lower %s) = %d, want %d", e.Suffix, c, e.Count)
				}
			}
		})
	}
}

func TestParseRangeBadArgs(t *testing.T) {
	if _, err := breach.ParseRange(breach.SHA1, "21BD", []byte(sufA+":1")); !errors.Is(err, security.ErrInvalid) {
		t.Errorf("bad prefix: %v", err)
	}
	if _, err := breach.ParseRange(0, "21BD1", []byte(sufA+":1")); err == nil {
		t.Error("kind 0 accepted")
	}
}

func TestRangeCountMisses(t *testing.T) {
	r, err := breach.ParseRange(breach.SHA1, "21BD1", []byte(sufA+":1\r\n"+sufC+":2\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{sufB, "", sufA[:34], sufA + "0", strings.Repeat("Z", 35), strings.Repeat("0", 35), strings.Repeat("F", 35)} {
		if c := r.Count(s); c != 0 {
			t.Errorf("Count(%q) = %d, want 0", s, c)
		}
	}
}

func TestRangeWriteTo(t *testing.T) {
	var body strings.Builder
	for i := range 5000 { // more than one write buffer
		fmt.Fprintf(&body, "%035X:%d\r\n", i*7919, i*1000+1)
	}
	r, err := breach.ParseRange(breach.SHA1, "00000", []byte(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := r.WriteTo(&out)
	if err != nil || n != int64(out.Len()) {
		t.Fatalf("WriteTo = %d, %v (wrote %d)", n, err, out.Len())
	}
	if out.String() != body.String() {
		t.Fatal("WriteTo does not reproduce the HIBP body")
	}
	i := 0
	for e := range r.All() {
		if e != r.At(i) {
			t.Fatalf("All()[%d] = %v, At = %v", i, e, r.At(i))
		}
		i++
		if i == 10 {
			break
		}
	}
}

// FuzzParseRange: whatever the body, ParseRange either fails with a
// FormatError or returns a sorted range whose text form parses back to the
// same range, and which holds every non-zero row of the body.
func FuzzParseRange(f *testing.F) {
	f.Add([]byte(sufA + ":1\r\n" + sufB + ":3\r\n"))
	f.Add([]byte(sufA + ":0\n" + sufB + ":2"))
	f.Add([]byte(sufC + ":1048575\n" + sufA + ":2\n"))
	f.Add([]byte("\r\n"))
	f.Add([]byte(sufA + ":1\r"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := breach.ParseRange(breach.SHA1, "ABCDE", body)
		if err != nil {
			var fe *breach.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FormatError", err)
			}
			return
		}
		var out bytes.Buffer
		if _, err := r.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if r.Len() == 0 {
			if out.Len() != 0 {
				t.Fatal("empty range wrote text")
			}
		} else {
			r2, err := breach.ParseRange(breach.SHA1, "ABCDE", out.Bytes())
			if err != nil {
				t.Fatalf("reparse: %v", err)
			}
			if fmt.Sprint(r2.Entries()) != fmt.Sprint(r.Entries()) {
				t.Fatal("reparse differs")
			}
		}
		prev := ""
		for e := range r.All() {
			if e.Suffix <= prev || e.Count <= 0 {
				t.Fatalf("entry %v after %q", e, prev)
			}
			prev = e.Suffix
		}
		for _, l := range strings.Split(string(body), "\n") {
			l = strings.TrimSuffix(l, "\r")
			s, c, ok := strings.Cut(l, ":")
			if ok && c != "0" && strings.Trim(c, "0") != "" && r.Count(s) == 0 {
				t.Fatalf("row %q lost", l)
			}
		}
	})
}
