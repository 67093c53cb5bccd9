package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

//go:embed templates assets
var files embed.FS

// navItem is one link of the navigation.
type navItem struct {
	Path, Label string
	Current     bool
}

// view is what every page template is given.
type view struct {
	h      *handler
	Prefix string
	API    string
	Title  string
	// User is the signed-in user; nil when signed out.
	User *security.Principal
	// Session is the signed-in user's session id.
	Session string
	Nav     []navItem
	// CSRF is the hidden token input of the page's forms.
	CSRF   template.HTML
	Notice string
	Error  string
	// Refresh, when set, reloads the page after that many seconds for
	// browsers without scripts.
	Refresh int
	// Data is the view's own.
	Data any
}

// newView starts the view of a page titled title whose navigation entry is
// current (a path relative to the prefix, "" for none).
func (h *handler) newView(r *http.Request, a *session.Auth, title, current string) *view {
	v := &view{h: h, Prefix: h.prefix, API: h.api, Title: title}
	if a == nil {
		return v
	}
	v.User, v.Session, v.CSRF = &a.Principal, a.Session.ID, httpadapter.CSRFField(r)
	if !a.Principal.IsStaff() {
		return v
	}
	add := func(p, label string, ok bool) {
		if ok {
			v.Nav = append(v.Nav, navItem{Path: p, Label: label, Current: p == current})
		}
	}
	add(pathSessions, "Sessions", v.Can("sessions") || v.Can("blacklist"))
	add(pathAlerts, "Alerts", v.Can("integrity"))
	add(pathChecks, "Checks", v.Can("integrity"))
	add(pathReport, "Report", v.Can("report"))
	add(pathPassword, "Password check", true)
	return v
}

// permissions maps the short names templates use to permissions.
var permissions = map[string]security.Permission{
	"sessions":  security.PermSessionsList,
	"terminate": security.PermSessionsTerminate,
	"blacklist": security.PermSessionsManage,
	"integrity": security.PermFileIntegrityAlertsManage,
	"report":    security.PermSecurityReportManage,
}

// Can reports whether the user holds the permission of a short name
// (sessions, terminate, blacklist, integrity, report) and the service it
// needs is there.
func (v *view) Can(name string) bool {
	perm, ok := permissions[name]
	if !ok {
		panic("console: unknown permission name " + name) // a template bug, caught by the tests
	}
	switch {
	case v.User == nil:
		return false
	case name == "integrity" && v.h.o.Integrity == nil, name == "report" && v.h.o.Report == nil:
		return false
	}
	return v.User.Can(perm)
}

// Asset is the URL of an embedded asset, by its name under assets/.
func (v *view) Asset(name string) string { return v.h.assets.url(v.h.prefix, name) }

// URL is a console URL: the prefix and rel.
func (v *view) URL(rel string) string { return v.Prefix + rel }

// funcs are the template functions of every page.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"list": func(s ...string) []string { return s },
	"sub":  func(a, b int) int { return a - b },
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// parseTemplates parses one template set per page: the layout with the
// page's own file.
func parseTemplates() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

// render answers the page name with v, buffered so that a template error is
// a 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	var buf bytes.Buffer
	t, ok := h.pages[name]
	if !ok {
		h.log.Error("console: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.log.Error("console: template", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// assetSet is the embedded assets under names that carry a hash of their
// content, so that they can be cached for good.
type assetSet struct {
	byName   map[string]string // "console.css" → "console.1a2b3c4d5e.css"
	byHashed map[string]asset
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// loadAssets reads and names every file under assets/.
func loadAssets() (*assetSet, error) {
	s := &assetSet{byName: map[string]string{}, byHashed: map[string]asset{}}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		body, err := fs.ReadFile(files, path.Join("assets", e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		tag := hex.EncodeToString(sum[:5])
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + tag + ext
		ctype := mime.TypeByExtension(ext)
		switch ext { // not left to the system's MIME tables
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		if ctype == "" {
			return nil, fmt.Errorf("console: no content type for asset %s", e.Name())
		}
		s.byName[e.Name()] = hashed
		s.byHashed[hashed] = asset{body: body, ctype: ctype, etag: `"` + tag + `"`}
	}
	return s, nil
}

// url is the address of the asset name under prefix.
func (s *assetSet) url(prefix, name string) string {
	hashed, ok := s.byName[name]
	if !ok {
		panic("console: no asset " + name) // a template bug, caught by the tests
	}
	return prefix + pathAssetsRoot + hashed
}

// asset serves an embedded asset by its hashed name, cacheable for a year
// (its name changes with its content), with an ETag.
func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets.byHashed[r.PathValue("name")]
	if !ok {
		h.notFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.ctype)
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Set("ETag", a.etag)
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(len(a.body)))
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
}
