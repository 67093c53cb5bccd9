package httpadapter

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

// reportRoutes lists GET /api/admin/security-report, or nothing without
// Config.Report.
func (h *Handler) reportRoutes() map[string]map[string]endpoint {
	if h.report == nil {
		return nil
	}
	return map[string]map[string]endpoint{
		"/api/admin/security-report": {
			http.MethodGet: {auth: authAny, staff: true, query: true,
				prepare: permitted(security.PermSecurityReportManage, h.securityReport)},
		},
	}
}

// ReportCSVHeader is the header row of GET /api/admin/security-report with
// format=csv; each following row is one UTC day of the period. It is
// [report.CSVHeader].
var ReportCSVHeader = report.CSVHeader

// securityReport serves GET /api/admin/security-report?from=&to=
// [&format=json|csv]: the seed's report plus data.daily, or the daily
// counts as CSV.
func (h *Handler) securityReport(c *call) (func() (reply, error), error) {
	q, err := queryValues(c.r)
	if err != nil {
		return nil, err
	}
	if err := allowOnly(q, "from", "to", "format"); err != nil {
		return nil, err
	}
	csvFormat := false
	switch q["format"] {
	case "", "json":
	case "csv":
		csvFormat = true
	default:
		return nil, security.Invalid("format", "must be json or csv")
	}
	// Parse now, so that a bad period is a 400 before the permission
	// check's domain call; the period is relative to the time of the
	// request.
	p, err := report.ParsePeriod(q["from"], q["to"], security.Now(h.clock))
	if err != nil {
		return nil, err
	}
	return func() (reply, error) {
		r, err := h.report.Build(c.r.Context(), p)
		if err != nil {
			return reply{}, err
		}
		if csvFormat {
			return reply{write: func(w http.ResponseWriter) { writeReportCSV(w, r) }}, nil
		}
		return reply{data: r, message: "Security report generated"}, nil
	}, nil
}

// writeReportCSV answers the daily counts of r as text/csv. Every cell is
// a date or a number, so no cell can start a spreadsheet formula.
func writeReportCSV(w http.ResponseWriter, r *report.Report) {
	var buf bytes.Buffer
	r.WriteCSV(&buf)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	hdr.Set("Content-Disposition", `attachment; filename="security-report.csv"`)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
