package smtpmail

import (
	htmltemplate "html/template"
	"net/netip"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Bounds on what a message repeats of its notice, in bytes.
const (
	// MaxUserAgent is how much of the client's user agent a message shows.
	MaxUserAgent = 200
	// MaxLocation is how much of a location a message shows.
	MaxLocation = 100
	maxName     = 100
	maxIP       = 64
)

// view is what the templates see: every field already cut and cleaned.
type view struct {
	App        string
	Name       string
	Code       string
	When       string
	Expires    string
	ExpiresIn  string
	Location   string
	IP         string
	Device     string
	ReportURL  string
	ReportText string
}

type content struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
	v       view
}

func (c content) render() (text, html string, err error) {
	var t, h strings.Builder
	if err := c.text.Execute(&t, c.v); err != nil {
		return "", "", err
	}
	if err := c.html.Execute(&h, c.v); err != nil {
		return "", "", err
	}
	return t.String(), h.String(), nil
}

func (m *Mailer) baseView(user security.Principal, ip, location, userAgent string, at time.Time) view {
	v := view{
		App:        m.appName,
		Name:       cut(user.Name, maxName),
		When:       when(at),
		Location:   cut(location, MaxLocation),
		IP:         cleanIP(ip),
		Device:     cut(userAgent, MaxUserAgent),
		ReportURL:  m.reportURL,
		ReportText: m.reportText,
	}
	if v.Location == "" {
		v.Location = "an unknown place"
	}
	if v.Device == "" {
		v.Device = "an unknown device"
	}
	if v.ReportURL == "" && v.ReportText == "" {
		v.ReportText = "Tell the people who run " + m.appName + " at once."
	}
	return v
}

func newIPContent(m *Mailer, n session.NewIPNotice) content {
	v := m.baseView(n.User, n.IP, n.Location, n.UserAgent, n.Time)
	return content{
		subject: "New sign-in to " + m.appName + " from " + v.Location,
		text:    newIPText,
		html:    newIPHTML,
		v:       v,
	}
}

func loginCodeContent(m *Mailer, c session.LoginCodeNotice) content {
	v := m.baseView(c.User, c.IP, c.Location, c.UserAgent, c.Time)
	v.Code = c.Code
	v.Expires = when(c.Expires)
	if !c.Time.IsZero() && c.Expires.After(c.Time) {
		v.ExpiresIn = minutes(c.Expires.Sub(c.Time))
	}
	return content{
		subject: "Your code to finish signing in to " + m.appName,
		text:    loginCodeText,
		html:    loginCodeHTML,
		v:       v,
	}
}

// when is t in UTC in RFC 1123's form, "Sun, 06 Dec 2026 18:40:00 UTC",
// the same for every reader whatever their time zone.
func when(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format(time.RFC1123)
}

func minutes(d time.Duration) string {
	n := int((d + 30*time.Second) / time.Minute)
	if n <= 1 {
		return "1 minute"
	}
	return strconv.Itoa(n) + " minutes"
}

// cut cleans client-chosen text for a message: control characters shown
// as \u00XX, invalid UTF-8 replaced, white space at the ends trimmed, and
// at most max bytes.
func cut(s string, max int) string {
	return strings.TrimSpace(security.CleanText(s, max))
}

func cleanIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	if s == "" {
		return "an unknown address"
	}
	return cut(s, maxIP)
}

// hasControl reports whether s holds a character that could end a header
// line or hide in one: CR, LF, NUL, any other control or a line separator.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

// The login's details and the report line, shared by both messages.
const (
	detailsText = `  When:   {{.When}}
  Where:  {{.Location}}
  IP:     {{.IP}}
  Device: {{.Device}}
`
	detailsHTML = `<table style="border-collapse: collapse">
<tr><th style="text-align: left; padding-right: 1em">When</th><td>{{.When}}</td></tr>
<tr><th style="text-align: left; padding-right: 1em">Where</th><td>{{.Location}}</td></tr>
<tr><th style="text-align: left; padding-right: 1em">IP</th><td>{{.IP}}</td></tr>
<tr><th style="text-align: left; padding-right: 1em">Device</th><td>{{.Device}}</td></tr>
</table>
`
)

var (
	newIPText = texttemplate.Must(texttemplate.New("newip.txt").Parse(`Hello{{with .Name}} {{.}}{{end}},

Your {{.App}} account was signed in to from a new address.

` + detailsText + `
If this was you, there is nothing to do.

If this wasn't you, change your password now: someone else knows it.
{{- with .ReportText}}
{{.}}{{end}}{{with .ReportURL}}
Report it: {{.}}{{end}}
`))

	newIPHTML = htmltemplate.Must(htmltemplate.New("newip.html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>New sign-in to {{.App}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5">
<p>Hello{{with .Name}} {{.}}{{end}},</p>
<p>Your {{.App}} account was signed in to from a new address.</p>
` + detailsHTML + `<p>If this was you, there is nothing to do.</p>
<p><strong>If this wasn't you, change your password now: someone else knows it.</strong>
{{- with .ReportText}} {{.}}{{end}}</p>
{{- with .ReportURL}}
<p><a href="{{.}}">Report a sign-in that wasn't you</a></p>{{end}}
</body></html>
`))

	loginCodeText = texttemplate.Must(texttemplate.New("code.txt").Parse(`Hello{{with .Name}} {{.}}{{end}},

Someone is signing in to your {{.App}} account from a new address. To finish
signing in, enter this code:

    {{.Code}}

It completes only this sign-in:

` + detailsText + `
The code expires at {{.Expires}}{{with .ExpiresIn}} (in {{.}}){{end}}.

If this wasn't you, don't give the code to anyone, and change your password:
someone else knows it.
{{- with .ReportText}}
{{.}}{{end}}{{with .ReportURL}}
Report it: {{.}}{{end}}
`))

	loginCodeHTML = htmltemplate.Must(htmltemplate.New("code.html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Your code for {{.App}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5">
<p>Hello{{with .Name}} {{.}}{{end}},</p>
<p>Someone is signing in to your {{.App}} account from a new address. To finish signing in, enter this code:</p>
<p style="font-size: 1.6em; font-family: monospace; letter-spacing: 0.2em"><strong>{{.Code}}</strong></p>
<p>It completes only this sign-in:</p>
` + detailsHTML + `<p>The code expires at {{.Expires}}{{with .ExpiresIn}} (in {{.}}){{end}}.</p>
<p><strong>If this wasn't you, don't give the code to anyone, and change your password: someone else knows it.</strong>
{{- with .ReportText}} {{.}}{{end}}</p>
{{- with .ReportURL}}
<p><a href="{{.}}">Report a sign-in that wasn't you</a></p>{{end}}
</body></html>
`))
)
