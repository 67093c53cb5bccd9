package report

import (
	"encoding/csv"
	"io"
	"strconv"
)

// CSVHeader is the header row [Report.WriteCSV] writes; each following row
// is one UTC day of the period.
var CSVHeader = []string{"date", "logins_successful", "logins_failed", "new_ip_verifications",
	"sessions_terminated", "blacklisted_users", "file_integrity_violations", "password_breaches_detected"}

// Row returns the counts of c in the column order of [CSVHeader], after
// its date column.
func (c Counts) Row() []string {
	return []string{itoa(c.Logins.Successful), itoa(c.Logins.Failed), itoa(c.NewIPVerifications),
		itoa(c.SessionsTerminated), itoa(c.BlacklistedUsers), itoa(c.FileIntegrityViolations),
		itoa(c.PasswordBreachesDetected)}
}

// WriteCSV writes the daily counts of r as CSV: [CSVHeader], then one row
// per UTC day. Every cell is a date or a number, so no cell can start a
// spreadsheet formula.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	for _, d := range r.Daily {
		cw.Write(append([]string{d.Date}, d.Counts.Row()...))
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
