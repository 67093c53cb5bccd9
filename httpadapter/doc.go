// Package httpadapter mounts the documented security endpoints on a
// net/http server. It is optional: the domain packages (session,
// mobileauth, integrity, security) do not depend on it, and hosts that do
// not speak HTTP never import it.
//
// # Use
//
//	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf,
//		Integrity: mon}) // optional: an *integrity.Monitor
//	mux := http.NewServeMux()
//	h.Register(mux) // the endpoints below
//	mux.Handle("GET /api/orders", h.RequireAuth(orders)) // a host route
//	mux.Handle("/notes", h.RequireLogin(h.Protect(notes))) // a host page and its form
//	srv := &http.Server{Handler: h.CanonicalPaths(mux)}
//
// CanonicalPaths is what keeps every answer under the adapter's prefixes
// the JSON envelope: without it, http.ServeMux answers a path that needs
// cleaning (/api/security/../admin/security-report), and /api/security or
// /api/admin without the slash, with a redirect and an HTML body before
// the adapter sees it. Used as the server's handler
// itself, the Handler does this on its own.
//
// # Endpoints
//
//	GET    /api/security/csrf-token                 any authenticated user
//	GET    /api/security/sessions?action=list       staff, api.security.sessions.list
//	GET    /api/security/sessions?action=blacklist_list   staff, api.security.sessions.manage
//	POST   /api/security/sessions                   staff; terminate, blacklist_add, blacklist_remove
//	POST   /api/security/mobile-auth                unauthenticated: email + password → bearer token
//	DELETE /api/security/mobile-auth                the bearer token's own holder
//	POST   /login                                   browser login: sets the session cookie (JSON or an HTML form)
//	GET    /logout, POST /logout                    ends the caller's session (JSON or an HTML form)
//	POST   /api/security/password                   any authenticated user: changes their own password
//	POST   /api/security/verify-login               completes a login that answered 202 (extension)
//	GET    /api/security/mfa, POST /api/security/mfa   the caller's second factors (extension)
//	GET    /api/security/passkeys, POST /api/security/passkeys   the caller's passkeys (extension, Config.Passkeys)
//	POST   /api/security/passkey-verification       completes a login that answered 202 with a passkey (extension)
//	POST   /api/security/passkey-login              usernameless login with a discoverable passkey (extension)
//	GET    /api/security/openapi.json               anyone: the OpenAPI document of these endpoints
//
// POST /api/security/password is an extension of the documented API (see
// Password change below). It is there when the session.Manager can change
// passwords (session.Manager.CanChangePasswords: its store, such as
// memstore, sqlitestore or pgstore, is also its user directory); otherwise
// its path is a JSON 404.
//
// With Config.Integrity, also these, each for staff with
// api.security.file_integrity_alerts.manage (without it their paths are
// JSON 404s like any unknown path):
//
//	GET    /api/security/file-integrity-alerts      ?status=&severity=&sortBy=&page=&limit=
//	POST   /api/security/resolve-alert              {"alert_id": 12}
//	POST   /api/security/bulk-resolve-alerts        {"alert_ids": [12, 13]}
//	POST   /api/security/bulk-delete-alerts         {"alert_ids": [12, 13]}
//	POST   /api/security/run-integrity-check        starts a check: {"check_id": "chk_…", "status": "running"}
//	GET    /api/security/file-integrity-progress    ?check_id=chk_…
//	GET    /api/security/file-diff                  ?alert_id=12
//	POST   /api/security/ignore-alert               {"alert_id": 12} (extension)
//	POST   /api/security/bulk-ignore-alerts         {"alert_ids": [12, 13]} (extension)
//	GET    /api/security/deployments                ?limit=: the open window and recent ones (extension)
//	POST   /api/security/deployments                {"action": "begin", "description": "…"} or {"action": "end"} (extension)
//
// The ignore and deployment endpoints are extensions of the documented API
// (see Deployments and ignored alerts below).
//
// Any other path under /api/security/ or /api/admin/ is a JSON 404, and so
// is a path there that is not in canonical form (see Use); a wrong method
// on a known path is a JSON 405 with an Allow header. HEAD is answered as
// the GET of the same path (status and headers, Content-Length included)
// without a body, and listed in Allow wherever GET is, except on /logout,
// whose GET changes state.
//
// The OpenAPI 3.1 document of every endpoint ([OpenAPI], the file
// openapi.json of this package) is served at GET
// /api/security/openapi.json without authentication (it holds no secret),
// with an ETag and Cache-Control: no-cache; If-None-Match with the ETag
// is a 304. The package's tests check every request and response they
// make against it.
//
// # Responses
//
// Every response is JSON with Cache-Control: no-store. Success is
// {"success": true, "data": …, "message": "…"} (lists add "count", the
// alert list "total" instead; paged lists add "page"); failure is {"success": false, "message": "<human
// text>", "error": "<code>"}, where code is one of the Code constants, and
// "data" only where the client needs it to act (a 409 from
// run-integrity-check names the running check, one from file-diff the
// host of the alert).
// Domain errors are mapped by the sentinels of package security: a 500 says
// "internal error" and nothing else, its cause going to Config.Logger.
// Nothing secret (tokens, passwords, CSRF values, Authorization or Cookie
// headers) is ever logged.
//
// # Authentication
//
// A request authenticates with "Authorization: Bearer <64 lowercase hex>"
// (a token from mobile-auth) or with the session cookie set by POST /login.
// When an Authorization header is present it is the only credential looked
// at, and a malformed one is a 401. DELETE /api/security/mobile-auth accepts
// only the bearer token.
//
// # Order of checks
//
// Each request is checked in this order, and the first failure answers:
// method (405), cross-origin browser request on an unsafe method (403
// cross_origin, by net/http's CrossOriginProtection; GET /logout is checked
// too, see below), credential (401), staff account on staff-only routes (403),
// Content-Type application/json (415), body size through http.MaxBytesReader
// before any parsing or password hashing (413), query string and body
// decoding and validation (400), CSRF token (403 csrf_invalid), and only
// then the domain call (403 permission, 404, 409, 429, 400 for one's own
// current session). A request refused at any step has changed nothing.
//
// # GET /logout
//
// GET /logout changes state, so it is checked as a POST would be, and more:
// with the session cookie it needs a positive same-origin signal,
// Sec-Fetch-Site "same-origin" or "none" (a page of the same origin, or
// an address typed or bookmarked), or, from a browser without
// Sec-Fetch-Site, an Origin of the same host (or one trusted by
// Config.CrossOrigin). A request with neither header, as an older
// browser sends on a top-level navigation from another site (GET
// navigations carry no Origin), is a 403 cross_origin whose message names
// POST /logout, which is unchanged (a CSRF token, no browser header
// needed). The refusal is the JSON envelope even for a browser asking
// for HTML: a browser shows it as text, and its message says what to do.
// A request with an Authorization header needs no browser header: that
// header is then the only credential looked at, and no browser attaches
// it to another site's request. HEAD /logout is a 405 (Allow: GET, POST):
// HEAD must be safe, and this GET is not.
//
// # File integrity
//
// The alert list is validated by allow-list: status 0 (new), 1 (resolved)
// or 2 (ignored); severity critical, high, medium or low; sortBy
// created_at_desc (the default), created_at_asc or severity_desc; page ≥ 1;
// limit 1 to 100 (default 25). It answers the page of alerts with the
// top-level "total" (alerts matching) and "page". alert_ids is a non-empty
// array of at most 1000 positive integers (a duplicate counts once in "N
// alert(s) resolved"); if any id is unknown the request changes nothing and
// the 404 names the unknown ids. Starting a check while one runs is a 409
// whose "data" holds the running check's check_id; with a store shared by
// several processes of one machine (pgstore), that includes a check another
// process runs, and the progress endpoint reports it too. Alerts and
// checks carry the "host" that raised or runs them (integrity.Config.Host):
// with a store shared by several machines, every instance lists every
// machine's alerts, but a check scans the files of the instance that runs
// it, and a diff needs the file, so a diff of an alert raised on another
// machine is a 409 whose "data" names its "host". A diff's "diff" is a
// unified diff, "Binary files differ", or the Monitor's explanation of why
// it made none ("not diffed: over 1048576 bytes"), which is then also the
// message. The permission is checked by the adapter, at the domain-call
// step, since the Monitor knows no principals; audit events name the
// caller as the Monitor's Actor.
//
// # Deployments and ignored alerts
//
// These extensions of the documented API are file-integrity endpoints like
// the others (staff, api.security.file_integrity_alerts.manage, CSRF on
// the POSTs, audited, the same envelope, check order and errors).
//
// The seed raises alerts for changes "outside of a planned deployment";
// POST /api/security/deployments opens and closes that window on the
// machine of the instance that serves it (integrity.Monitor). {"action":
// "begin", "description": "release 1.2"} first runs a scan, so that
// earlier changes still alert (the request waits for it), then opens the
// window: message "Deployment started", data the deployment. The
// description is required, trimmed, and at most 500 characters. While the
// window is open, checks raise no alerts. {"action": "end"} accepts every
// change since it opened into the baseline and closes it: message
// "Deployment ended", data {"accepted": N, "deployment": {…}}, N counting
// the baseline entries accepted. A begin while a window is open is a 409
// whose message and data.deployment name the open one; an end with none
// open is a 404. A deployment is
//
//	{"id": "dep_…", "description": "…", "started_at": "2024-06-14T10:00:00Z",
//	 "started_by": 1, "ended_at": null, "ended_by": null, "accepted": null}
//
// started_by and ended_by being user ids (0: the host application), and the
// last three null while it is open. GET /api/security/deployments answers
// {"open": {…} or null, "recent": […]}, recent holding the latest ended
// deployments, the latest first (?limit= 1 to 100, default 25). A stored
// window that fails verification (written to the database behind the
// Monitor's back) is a 409 for GET and for end: scans ignore it and raise a
// baseline_tampered alert.
//
// POST /api/security/ignore-alert {"alert_id": 12} (message "Alert
// ignored") and POST /api/security/bulk-ignore-alerts {"alert_ids": […]}
// (message "N alert(s) ignored") set status 2, which the alert list's
// filter knows. They work as resolve-alert and bulk-resolve-alerts do: the
// same limits, a 404 naming unknown ids with nothing changed, duplicates
// counted once, and an alert already in that status counted but not
// changed. An ignored alert can be resolved and a resolved one ignored;
// each change is audited with the status it had.
//
// # Request bodies
//
// A body must be exactly one JSON object in UTF-8. Unknown members,
// duplicate members, members whose names differ only in case, trailing
// data, null, and values of the wrong type (a string or a fraction where an
// integer is expected, a number where a string is) are refused with a 400
// naming the member. Query strings are checked the same way: unknown or
// repeated parameters are refused.
//
// # CSRF
//
// Every state-changing request of an authenticated user needs a token from
// GET /api/security/csrf-token, in the body's "csrf_token" or the
// X-CSRF-Token header (both may be sent only if equal). Tokens are bound to
// the session that fetched them; whether they are single-use is the
// [security.CSRF]'s setting. POST and DELETE /api/security/mobile-auth and
// POST /login need no token; cross-origin protection still applies to them.
// A form POST /logout takes a host-form token instead (see "Protecting your
// own routes").
//
// # Protecting your own routes
//
// A host's own pages and handlers use the same sessions, CSRF keys and
// origin rules as the endpoints, from the same [Config]:
//
//	mux.Handle("GET /login", loginPage)                  // the host's page; its form posts to /login
//	mux.Handle("/notes", h.RequireLogin(h.Protect(notes))) // a page and its form
//	mux.Handle("/api/orders", h.RequireAuth(h.Protect(orders)))
//
// [Handler.RequireLogin] sends a browser without a session (a request that
// accepts text/html and has no X-Requested-With) to Config.LoginPage with
// ?next=<the page>, and answers other clients with the JSON 401 of
// [Handler.RequireAuth]. [AuthFrom] gives the handler the session.
//
// [Handler.Protect] checks every unsafe method (not GET, HEAD, OPTIONS,
// TRACE): the request must pass Config.CrossOrigin (the instance the
// endpoints use, so trusting another origin is done once) and carry a
// token bound to its session, in the X-CSRF-Token header or the csrf_token
// field of a urlencoded or multipart form (never the query string). A
// page puts one in a form with {{.CSRFField}} from [CSRFField], or in a
// <meta> tag for scripts with [CSRFToken]. A refusal is a 403: the JSON
// envelope for API clients and scripts, a short page (or
// Config.ForbiddenPage) for browsers; a UI with its own look wraps its
// routes in [WithForbiddenPage], whose page reads why from [RefusalCode].
//
// Host-form tokens are a separate kind from those of GET
// /api/security/csrf-token: their MAC key is derived for host forms
// ([security.CSRF.Derive]), so the JSON endpoints refuse them and Protect
// refuses theirs, and a token that leaks from a host page cannot be spent
// on the security endpoints. They are reusable for the session until they
// expire (12 hours) by default, for three reasons. The back button
// re-shows a page from the browser's cache, with the token it was rendered
// with: a single-use token already spent makes the resubmitted form a 403
// and loses what the user typed; the same happens when a form that failed
// validation is posted again. Several tabs work either way, since every
// page render issues its own token. And what single-use adds, a token
// that cannot be replayed, matters little here: a forged request comes
// from another origin, which the cross-origin check refuses in every
// browser that sends Sec-Fetch-Site or Origin, whatever the token; the
// token is the defence for older browsers, against which a leaked
// reusable token stays usable until it expires or its session ends.
// Config.SingleUseFormTokens makes them
// single-use (each consumption is one NonceStore write) for hosts that
// want it; the endpoints' tokens stay single-use by default either way.
//
// Form login: POST /login with an application/x-www-form-urlencoded body
// of email, password and an optional next logs in as the JSON form does.
// Success answers 303 to next, when it is a path on this origin (it must
// start with one "/", and schemes, "//host", backslashes, encoded slashes
// and backslashes, dot segments, control characters and values over 2 KiB
// are ignored: no open redirect), else to Config.AfterLogin. Failure
// answers 303 to Config.LoginPage with ?error=<code> (one of the Code
// constants: invalid_credentials, too_many_attempts, account_blacklisted,
// invalid_request, …), the next it was given and, when throttled,
// retry_after=<seconds>, for the page to show; the email is never put in
// the URL. A form login has no session to bind a token to; it is
// protected from login CSRF (a foreign page logging the browser into the
// attacker's account) by the cross-origin check, which refuses a
// cross-site form post by its Sec-Fetch-Site or Origin header before the
// password is looked at (browsers that send neither, from before 2020,
// are let through, as by net/http). A form POST /logout with the page's
// csrf_token ends the session and answers 303 to Config.AfterLogout
// (without a session there is nothing to end and it does the same). JSON
// requests to both get what they always did.
//
// A part of the host with a sign-in form of its own, under its own path
// (such as package console), mounts [Handler.FormLogin] and
// [Handler.FormLogout]: the same form login and logout, whose refusals
// and redirects go to the pages it names rather than Config.LoginPage,
// AfterLogin and AfterLogout. [Handler.FormSignIn] is FormLogin with a
// verification page of its own instead of Config.VerifyPage, and the form
// handler that page posts its code to.
//
// [WriteSuccess] and [WriteError] write the envelope of the endpoints for
// host handlers that answer alike, and [Handler.Fail] maps an error of the
// domain packages as the endpoints do.
//
// # Password change
//
// POST /api/security/password, an extension of the documented API, takes
// {"current_password": "…", "new_password": "…", "revoke_other_sessions":
// true, "csrf_token": "…"} from any authenticated user (cookie or bearer
// token); revoke_other_sessions is optional and defaults to true. It
// answers {"success": true, "message": "Password changed", "data":
// {"sessions_revoked": N}}: the caller's other sessions and bearer tokens
// are revoked (unless revoke_other_sessions is false), the session that
// made the request stays. Refusals: 400 invalid_request naming the field
// for a missing member, a new password under 8 characters or over 1024
// bytes, equal to the current one, or found in breach data (with
// session.Config.BreachCheck), and "current_password: is incorrect" for a
// wrong current password (a 400, not a 401: the session is fine); 401
// without a valid credential; 403 csrf_invalid; 409 conflict when another
// request changed the password meanwhile; 429 too_many_attempts with
// Retry-After once the email or IP is locked out (wrong current passwords
// count against the same limits as failed logins, and failed logins against
// the change); 503 breach_source_unavailable when the breach check could
// not be made (nothing is changed). The change is audited as
// password_changed (with sessions_revoked), a refused one as
// password_change_failed; neither holds a password. The sessions it revokes
// are not counted as terminated in the security report.
//
// # Step-up verification
//
// When session.Manager asks for a second step (see "Step-up verification"
// in package session), JSON POST /login and POST /api/security/mobile-auth
// answer 202 with {"verification_required": true, "verification_id":
// "ver_…", "methods": […], "reason", "expires_at"} and no cookie or token;
// a form login answers 303 to Config.VerifyPage?verification_id=ver_…
// (a [Handler.FormSignIn] login to its own page), and a refused code in
// its form comes back there with &error= and &attempts_left=.
// POST /api/security/verify-login {"verification_id", "code"} (no CSRF
// token; the cross-origin check applies; JSON or an HTML form) answers
// what the login would have: the cookie and the caller, or the bearer
// token. A refused code is 401 verification_failed with
// data.attempts_left (0: log in again). GET /api/security/mfa reports the
// caller's factors; POST /api/security/mfa (CSRF) takes enroll_totp
// (secret, otpauth_uri, qr_png: a base64 PNG), confirm_totp (+code: ten
// recovery codes), remove and regenerate_recovery_codes (+password or
// code). Both endpoints are there when the store keeps second factors
// (session.Manager.SecondFactorsSupported). A restricted session
// (session.Auth.Restricted) is refused with 403 second_factor_required on
// every route but /api/security/mfa, csrf-token, logout and DELETE
// mobile-auth, and by RequireAuth, RequireLogin and Protect
// ([Handler.ProtectEnrolment] admits it, for the host's enrolment pages).
//
// # Passkeys
//
// With Config.Passkeys (a passkey.Service, also given to
// session.Config.Methods so that logins of users with a passkey offer
// "passkey"), GET /api/security/passkeys lists the caller's passkeys and
// POST /api/security/passkeys (CSRF) takes register_begin (answers
// {"ceremony_id": "pkc_…", "options": {"publicKey": {…}}} for
// navigator.credentials.create), register_finish (+ceremony_id,
// credential: the PublicKeyCredential's JSON, name) and remove
// (+credential_id, password or code); a restricted session may use both.
// POST /api/security/passkey-verification takes begin (+verification_id:
// the options for navigator.credentials.get) and finish (+verification_id,
// ceremony_id, credential), which answers what the login would have, like
// verify-login; a refused assertion is 401 verification_failed and counts
// as a wrong code. Bodies are bounded below Config.MaxBodyBytes: 69,632
// bytes on /passkeys (a registration response may be 65,536), 20,480 on
// /passkey-verification (an assertion 16,384); a refused registration is
// 400 passkey_refused. POST /api/security/passkey-login (begin; finish
// with ceremony_id, credential and kind: web or mobile) logs in with a
// discoverable passkey alone, user verification required, through
// session.Manager.LoginWithFactor; a refusal is 401 invalid_credentials.
//
// # Client addresses
//
// The client address given to the session manager (and so to the audit log,
// new-IP detection and throttling) is [ClientIP]: the connection's address,
// or, from Config.TrustedProxies only, the rightmost untrusted address of
// X-Forwarded-For.
package httpadapter
