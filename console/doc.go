// Package console is an optional staff security console for a host
// application: server-rendered pages over the same domain packages and
// permission rules as package httpadapter, mounted under a prefix of the
// host's choice. Nothing in it is needed by hosts that only serve the JSON
// API; the domain packages do not know it exists.
//
// # Use
//
//	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf, Integrity: mon, Report: reports})
//	c, err := console.NewHandler(console.Options{Adapter: h, Sessions: mgr,
//		Integrity: mon, Report: reports}) // Prefix: "/console/" by default
//	mux := http.NewServeMux()
//	h.Register(mux)               // the API, which the Password check view calls
//	mux.Handle("/console/", c)    // the console, under its prefix
//
// NewHandler checks its options and returns an error, never panics; it
// starts nothing. The prefix is normalised once (one slash at each end)
// and written into every link, form, asset URL and redirect of the pages
// at request time, so the console works under any prefix. Without
// Options.Integrity the Alerts and Checks views are left out, without
// Options.Report the Report view.
//
// # Security
//
// Every answer carries [ContentSecurityPolicy] (nothing from another
// origin, no inline script or style, no framing), X-Content-Type-Options:
// nosniff, Referrer-Policy: same-origin and X-Frame-Options: DENY; pages
// are Cache-Control: no-store. The assets (one stylesheet, an icon, two
// small script modules) are embedded and served under names carrying a
// hash of their content, cacheable for a year, with an ETag.
//
// Sign-in sets the adapter's session cookie through
// [httpadapter.Handler.FormLogin] (its origin check, throttling and
// lockout); sign-out is [httpadapter.Handler.FormLogout]. Every other
// form posts to a console route wrapped in [httpadapter.Handler.Protect]:
// it must come from this origin and carry the page's host-form CSRF token
// (field csrf_token). The actions call the domain packages with the
// request's [session.Auth], so their permission rules decide
// (session.Manager checks its own; for the integrity Monitor and the
// report, which know no principals, the console checks
// api.security.file_integrity_alerts.manage and
// api.admin.security_report.manage as httpadapter does). A page shows only
// the actions its user may take, and a view the user may not open is
// absent from the navigation and answers 403. A customer account that
// signs in is told that a staff account is required, with a sign-out
// button.
//
// # Pages
//
// Paths are relative to the prefix (P, "/console/" by default). Every page
// has a skip link, a <main id="main"> with one <h1>, and, once signed in,
// a <nav aria-label="Console"> whose current entry has
// aria-current="page". Errors are HTML pages with the status (400 bad
// input, 403 not permitted or CSRF, 404 unknown, 409 conflict), whatever
// the request's Accept header.
//
//	GET  P                      signed out: the sign-in form; signed in: 303 to the first view
//	GET  P?error=CODE&next=…    the sign-in form saying why the last attempt failed
//	GET  P login, GET P logout  303 to P (the forms' addresses, typed; GET never signs out)
//	GET  P sessions             Sessions: ?user_id= filters, ?page= pages (25 a page),
//	                            ?blacklist_user= fills in the blacklist form
//	GET  P sessions/terminate   confirmation: ?session_id=sess_…&user_id=N
//	GET  P alerts               Alerts: ?status=new|resolved|ignored, ?severity=critical|high|medium|low,
//	                            ?sort=created_at_desc|created_at_asc|severity_desc, ?page=
//	GET  P alerts/{id}          one alert, its actions and its diff
//	GET  P checks               Checks and deployments: ?check_id=chk_… shows that check
//	GET  P checks/progress      JSON {"check_id", "status", "files_total", "files_scanned",
//	                            "violations_found", "error"} for ?check_id= (the progress script)
//	GET  P report               Report: ?from=YYYY-MM-DD&to=YYYY-MM-DD (default: the last 7 days)
//	GET  P report.csv           the same period's daily counts as CSV (a download)
//	GET  P password             Password check
//	GET  P assets/{name}        the embedded assets, by hashed name
//
// After a change the browser is sent (303) back to the view with
// ?notice=KEY, which the page shows as a status message.
//
// # Forms
//
// Each form has a name attribute, and each POST form a hidden csrf_token.
//
//	name               method action               fields
//	signin             POST   P login              email, password, next (hidden, optional)
//	signout            POST   P logout             csrf_token (in the header of every page)
//	signout-customer   POST   P logout             csrf_token (the staff-account-required page)
//	filter-sessions    GET    P sessions           user_id
//	terminate          POST   P sessions/terminate session_id
//	blacklist-add      POST   P blacklist/add      user_id, reason
//	blacklist-remove   POST   P blacklist/remove   user_id (one form a blacklisted user)
//	filter-alerts      GET    P alerts             status, severity, sort (selects)
//	alerts-bulk        POST   P alerts             alert_id (checkboxes, repeated), action=resolve|ignore|delete
//	                                               (three buttons: "Resolve selected", "Ignore selected",
//	                                               "Delete selected"), status, severity, sort, page (hidden)
//	alert-actions      POST   P alerts             alert_id, return=detail, action (buttons Resolve, Ignore, Delete)
//	run-check          POST   P checks/run         (button "Run integrity check")
//	begin-deployment   POST   P deployments/begin  description
//	end-deployment     POST   P deployments/end    (button "End deployment and accept changes")
//	report-period      GET    P report             from, to (type=date)
//	password-check     (none: the script)          one password input, id "pw", with no name
//
// # Views
//
// Sessions lists every live session (user and id, device kind and user
// agent, IP address, location, last seen; the current one marked "This
// session"; the user's name links to their sessions alone), with a
// Terminate link on each session the user may end,
// never their current one, leading to a confirmation page, and a
// "Blacklist…" link (?blacklist_user=N) that fills in the blacklist form
// with the session's user. The blacklist section adds a user with a reason
// and lists the blacklist, each entry with a Remove button.
//
// Alerts lists alerts with checkboxes to resolve, ignore or delete several
// at once; an alert's page shows its details and its diff as a table
// (data-testid="diff"): old and new line numbers, added and removed lines
// marked with a +/− sign and visually hidden "added:"/"removed:" text as
// well as colour. A file that was not diffed shows the Monitor's reason
// ("not diffed: over 1048576 bytes", "Binary files differ") in a note
// (data-testid="diff-note").
//
// Checks starts an integrity check (one already running is shown, with a
// notice, not an error) and shows its progress in a <progress
// id="check-progress">, with the counts in #check-scanned, #check-total
// and #check-violations, and the status in #check-status. Its script polls
// checks/progress every half second and reloads the page when the check
// ends; without scripts a <noscript> meta refresh reloads it every two
// seconds while it runs. The deployment section begins a deployment with
// a description, or shows the open one (data-testid="open-deployment")
// with its end button, and lists recent deployments with the number of
// changes each accepted.
//
// Report shows the seven counters of the security report, an SVG bar
// chart of the daily successful and failed logins and violations (with a
// title on every bar), the same figures in a table, and a "Download CSV"
// link.
//
// Password check hashes the typed password with SHA-1 in the browser
// (WebCrypto: HTTPS or localhost), sends only the first five hex digits to
// GET {Options.API}/password-breach-check?hash_prefix=, and compares the
// suffixes it gets back itself; the result is written to #pw-result. The
// password input has no name and the form no action: the password and
// its full hash never leave the page.
package console
