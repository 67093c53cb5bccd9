package console

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// defaultReportDays is the default period of the Report view.
const defaultReportDays = 7

// reportData is the Data of the Report view.
type reportData struct {
	From, To string
	Report   *report.Report
	Counters []counter
	Chart    chart
	CSV      string
}

// counter is one figure of the report.
type counter struct {
	Label string
	N     int64
}

// reportPeriod reads ?from= and ?to= (YYYY-MM-DD), defaulting to the last
// seven days (today included).
func (h *handler) reportPeriod(r *http.Request) (from, to string, p report.Period, err error) {
	q := r.URL.Query()
	now := security.Now(h.o.Clock).UTC()
	from, to = q.Get("from"), q.Get("to")
	if to == "" {
		to = now.Format(time.DateOnly)
	}
	if from == "" {
		from = now.AddDate(0, 0, 1-defaultReportDays).Format(time.DateOnly)
	}
	for _, s := range []string{from, to} {
		if _, perr := time.Parse(time.DateOnly, s); perr != nil {
			return from, to, p, &pageError{status: http.StatusBadRequest, msg: "Give the dates as YYYY-MM-DD."}
		}
	}
	p, err = report.ParsePeriod(from, to, now)
	if err != nil {
		return from, to, p, &pageError{status: http.StatusBadRequest, msg: "That period is not valid: " + reason(err)}
	}
	return from, to, p, nil
}

// reason is the words of an invalid-input error.
func reason(err error) string {
	if inv, ok := err.(*security.InvalidError); ok {
		return inv.Reason + "."
	}
	return "check the dates."
}

// reportPage is the Report view.
func (h *handler) reportPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	v := h.newView(r, &a, "Security report", pathReport)
	if !v.Can("report") {
		h.fail(w, r, &a, security.ErrForbidden)
		return
	}
	from, to, p, err := h.reportPeriod(r)
	d := reportData{From: from, To: to}
	if err != nil {
		v.Data = d
		status, msg := h.describe(r, err)
		v.Error = msg
		h.render(w, r, status, "report", v)
		return
	}
	rep, err := h.o.Report.Build(r.Context(), p)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	c := rep.Counts
	d.Report = rep
	d.Counters = []counter{
		{"Successful logins", c.Logins.Successful}, {"Failed logins", c.Logins.Failed},
		{"New-IP verifications", c.NewIPVerifications}, {"Sessions terminated", c.SessionsTerminated},
		{"Users blacklisted", c.BlacklistedUsers}, {"File-integrity violations", c.FileIntegrityViolations},
		{"Password breaches detected", c.PasswordBreachesDetected},
	}
	d.Chart = newChart(rep.Daily)
	d.CSV = h.url(pathReportCSV, url.Values{"from": {from}, "to": {to}})
	v.Data = d
	h.render(w, r, http.StatusOK, "report", v)
}

// reportCSV downloads the report's daily counts as CSV.
func (h *handler) reportCSV(w http.ResponseWriter, r *http.Request, a session.Auth) {
	if !a.Principal.Can(security.PermSecurityReportManage) {
		h.fail(w, r, &a, security.ErrForbidden)
		return
	}
	from, to, p, err := h.reportPeriod(r)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	rep, err := h.o.Report.Build(r.Context(), p)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		h.fail(w, r, &a, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	hdr.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="security-report-%s-%s.csv"`, from, to))
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// chart is the daily series drawn as grouped bars in an SVG.
type chart struct {
	Width, Height int
	Left          int
	Grid          []gridLine
	Days          []dayBars
	Ticks         []tick
}

// dayBars are one day's bars, under one title.
type dayBars struct {
	Title string
	Bars  []bar
}

type gridLine struct {
	Y     float64
	Label string
}

type bar struct {
	X, Y, W, H float64
	Class      string
}

type tick struct {
	X     float64
	Label string
}

// The chart's geometry, in SVG user units.
const (
	chartWidth  = 720
	chartHeight = 260
	chartLeft   = 44
	chartRight  = 8
	chartBottom = 26
	chartTop    = 10
	// tickSpace is the least room a date label needs.
	tickSpace = 44
)

// newChart lays out the logins (successful, failed) and violations of
// each day as three bars, with four grid lines and a date under every
// day there is room for.
func newChart(days []report.Day) chart {
	c := chart{Width: chartWidth, Height: chartHeight, Left: chartLeft}
	var top int64
	for _, d := range days {
		top = max(top, d.Logins.Successful, d.Logins.Failed, d.FileIntegrityViolations)
	}
	top = niceCeil(top)
	plot := float64(chartHeight - chartBottom - chartTop)
	base := chartTop + plot
	y := func(v int64) float64 { return base - float64(v)*plot/float64(top) }
	for i := int64(0); i <= 4; i++ {
		v := top * i / 4
		c.Grid = append(c.Grid, gridLine{Y: y(v), Label: strconv.FormatInt(v, 10)})
	}
	slot := float64(chartWidth-chartLeft-chartRight) / float64(max(len(days), 1))
	w := slot * 0.8 / 3
	every := max(1, int(tickSpace/slot+0.999))
	for i, d := range days {
		x0 := chartLeft + float64(i)*slot + slot*0.1
		day := dayBars{Title: fmt.Sprintf("%s: %d successful logins, %d failed logins, %d violations", d.Date,
			d.Logins.Successful, d.Logins.Failed, d.FileIntegrityViolations)}
		for j, s := range []struct {
			v     int64
			class string
		}{{d.Logins.Successful, "s-ok"}, {d.Logins.Failed, "s-fail"}, {d.FileIntegrityViolations, "s-viol"}} {
			if s.v > 0 {
				day.Bars = append(day.Bars, bar{X: round1(x0 + float64(j)*w), Y: round1(y(s.v)), W: round1(w),
					H: round1(base - y(s.v)), Class: s.class})
			}
		}
		if len(day.Bars) > 0 {
			c.Days = append(c.Days, day)
		}
		if i%every == 0 {
			label := d.Date
			if len(label) == 10 {
				label = label[5:] // MM-DD
			}
			c.Ticks = append(c.Ticks, tick{X: round1(chartLeft + (float64(i)+0.5)*slot), Label: label})
		}
	}
	for i := range c.Grid {
		c.Grid[i].Y = round1(c.Grid[i].Y)
	}
	return c
}

// round1 rounds to a tenth, to keep the SVG short.
func round1(f float64) float64 { return math.Round(f*10) / 10 }

// niceCeil rounds v up to 4, or to 1, 2 or 5 times a power of ten that
// divides into four grid steps.
func niceCeil(v int64) int64 {
	if v <= 4 {
		return 4
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if n := 4 * m * p; n >= v {
				return n
			}
		}
	}
}
