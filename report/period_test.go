package report_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

var (
	now   = time.Date(2024, 6, 14, 10, 30, 15, 500, time.UTC)
	nowUp = time.Date(2024, 6, 14, 10, 30, 16, 0, time.UTC) // now rounded up to the second
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		from, to               string
		wantFrom, wantTo       string
		wantStart, wantEndLast time.Time // wantEndLast: the last instant counted
	}{
		{"2024-06-01", "2024-06-14", "2024-06-01", "2024-06-14",
			day(1), day(15).Add(-time.Nanosecond)},
		{"2024-06-01T10:00:00Z", "2024-06-02T10:00:00Z", "2024-06-01T10:00:00Z", "2024-06-02T10:00:00Z",
			day(1).Add(10 * time.Hour), day(2).Add(10 * time.Hour)},
		{"2024-06-01T12:00:00+02:00", "2024-06-01T12:00:00.5-01:00", "2024-06-01T12:00:00+02:00", "2024-06-01T12:00:00.5-01:00",
			day(1).Add(10 * time.Hour), day(1).Add(13*time.Hour + 500*time.Millisecond)},
		// The default to is now rounded up to the second: an event of this
		// very second counts, and both echoes are to the second.
		{"", "", "2024-06-07T10:30:16Z", "2024-06-14T10:30:16Z",
			nowUp.Add(-7 * 24 * time.Hour), nowUp},
		{"", "2024-06-10", "2024-06-04", "2024-06-10", day(4), day(11).Add(-time.Nanosecond)},
		{"", "2024-06-10T00:00:00Z", "2024-06-03T00:00:00Z", "2024-06-10T00:00:00Z", day(3), day(10)},
		{"2024-06-01", "", "2024-06-01", "2024-06-14T10:30:16Z", day(1), nowUp},
		{"2024-06-14", "2024-06-14", "2024-06-14", "2024-06-14", day(14), day(15).Add(-time.Nanosecond)},
		// 366 days: a whole leap year.
		{"2024-01-01", "2024-12-31", "2024-01-01", "2024-12-31",
			time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, -1, time.UTC)},
		{"2023-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2023-01-01T00:00:00Z", "2024-01-02T00:00:00Z",
			time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.from+"_"+tt.to, func(t *testing.T) {
			p, err := report.ParsePeriod(tt.from, tt.to, now)
			if err != nil {
				t.Fatal(err)
			}
			if p.From != tt.wantFrom || p.To != tt.wantTo {
				t.Errorf("echo = %q, %q; want %q, %q", p.From, p.To, tt.wantFrom, tt.wantTo)
			}
			if !p.Start.Equal(tt.wantStart) || !p.End.Equal(tt.wantEndLast.Add(time.Nanosecond)) {
				t.Errorf("span = [%v, %v); want [%v, %v]", p.Start, p.End, tt.wantStart, tt.wantEndLast)
			}
		})
	}
}

// TestParsePeriodDefaults: defaulted bounds are RFC 3339 to the second,
// both alike, whatever the fraction of now, count now itself, and sent
// back select the same span.
func TestParsePeriodDefaults(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2024, 6, 14, 10, 30, 15, 0, time.UTC),
		time.Date(2024, 6, 14, 10, 30, 15, 1, time.UTC),
		time.Date(2024, 6, 14, 10, 30, 15, 799940928, time.UTC),
		time.Date(2024, 6, 14, 23, 59, 59, 999999999, time.FixedZone("", 2*3600)),
	} {
		t.Run(now.Format(time.RFC3339Nano), func(t *testing.T) {
			p, err := report.ParsePeriod("", "", now)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{p.From, p.To} {
				if u, err := time.Parse(time.RFC3339, s); err != nil || u.Format(time.RFC3339) != s || !strings.HasSuffix(s, "Z") {
					t.Errorf("bound %q is not RFC 3339 UTC to the second", s)
				}
			}
			if now.Before(p.Start) || !now.Before(p.End) {
				t.Errorf("now %v is outside [%v, %v)", now, p.Start, p.End)
			}
			if p.End.Sub(now) > time.Second {
				t.Errorf("the period ends %v after now", p.End.Sub(now))
			}
			again, err := report.ParsePeriod(p.From, p.To, now)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Start.Equal(p.Start) || !again.End.Equal(p.End) {
				t.Errorf("echo %q..%q selects [%v, %v), not [%v, %v)", p.From, p.To, again.Start, again.End, p.Start, p.End)
			}
		})
	}
}

func TestParsePeriodErrors(t *testing.T) {
	tests := []struct{ from, to, field string }{
		{"2024-06-15", "2024-06-14", "from"},
		{"2024-06-14T10:00:00Z", "2024-06-14T09:59:59Z", "from"},
		{"2024-06-20", "", "from"}, // after the default to (now)
		{"2024-01-01", "2025-01-01", ""},
		{"2023-01-01T00:00:00Z", "2024-01-02T00:00:00.000000001Z", ""},
		{"", "x", "to"},
		{"2024-6-1", "", "from"},
		{"2024-06-31", "", "from"},
		{"2024-06-01T10:00:00", "", "from"},  // no offset
		{"2024-06-01 10:00:00Z", "", "from"}, // no T
		{"2024-06-01t10:00:00z", "", "from"},
		{"2024-06-01T25:00:00Z", "", "from"},
		{"2024-06-01T10:00Z", "", "from"},
		{"20240601", "", "from"},
		{"1969-12-31", "2024-01-01", "from"},
		{"", "9999-01-01", "to"},
		{"+2024-06-01", "", "from"},
		{"", "2024-06-01T10:00:00Z" + strings.Repeat("0", 40), "to"},
	}
	for _, tt := range tests {
		t.Run(tt.from+"_"+tt.to, func(t *testing.T) {
			_, err := report.ParsePeriod(tt.from, tt.to, now)
			if !errors.Is(err, security.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var ie *security.InvalidError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Errorf("err = %#v, want field %q", err, tt.field)
			}
		})
	}
}

// FuzzParsePeriod: any input either fails with ErrInvalid or gives a
// non-empty period of at most MaxPeriod, echoing what was asked.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range [][2]string{{"2024-06-01", "2024-06-14"}, {"", ""}, {"2024-06-01T10:00:00+02:00", ""},
		{"", "2024-06-01T10:00:00.123Z"}, {"2024-02-30", "x"}, {"2261-12-31", "2261-12-31"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		p, err := report.ParsePeriod(from, to, now)
		if err != nil {
			if !errors.Is(err, security.ErrInvalid) {
				t.Fatalf("err = %v, not ErrInvalid", err)
			}
			return
		}
		if !p.Start.Before(p.End) || p.End.Sub(p.Start) > report.MaxPeriod+time.Nanosecond {
			t.Fatalf("bad span [%v, %v)", p.Start, p.End)
		}
		if (from != "" && p.From != from) || (to != "" && p.To != to) {
			t.Fatalf("echo %q %q for %q %q", p.From, p.To, from, to)
		}
		if p.Start.Year() < 1970 || p.End.UnixNano() <= 0 {
			t.Fatalf("span out of range: %v", p.Start)
		}
	})
}
