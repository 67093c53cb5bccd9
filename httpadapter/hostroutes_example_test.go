package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// A server-rendered app: the host's own login page posts its form to the
// adapter's POST /login; /notes is a page behind RequireLogin whose form is
// protected by Protect and carries CSRFField.
func ExampleHandler_Protect() {
	h, _ := exampleHandler(httpadapter.Config{
		InsecureCookies: true, // only because this example serves plain HTTP
		LoginPage:       "/login", AfterLogin: "/notes"})

	loginPage := template.Must(template.New("login").Parse(`<form method="post" action="/login">
{{if .Error}}<p>Login failed: {{.Error}}</p>{{end}}
<input name="email"> <input name="password" type="password">
<input type="hidden" name="next" value="{{.Next}}"><button>Log in</button></form>`))
	notesPage := template.Must(template.New("notes").Parse(`<p>Hello, {{.Name}}</p>
<form method="post" action="/notes">{{.CSRFField}}<input name="note"><button>Save</button></form>`))

	mux := http.NewServeMux()
	h.Register(mux) // POST /login, POST /logout and the JSON API
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		loginPage.Execute(w, map[string]string{"Error": r.FormValue("error"), "Next": r.FormValue("next")})
	})
	mux.Handle("/notes", h.RequireLogin(h.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := httpadapter.AuthFrom(r.Context())
		if r.Method == http.MethodPost {
			fmt.Fprintf(w, "saved %q for %s", r.PostFormValue("note"), a.Principal.Name)
			return
		}
		notesPage.Execute(w, map[string]any{"Name": a.Principal.Name, "CSRFField": httpadapter.CSRFField(r)})
	}))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A browser: it keeps cookies, asks for HTML; redirects are shown, not
	// followed.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	visit := func(method, path string, form url.Values) string {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.Header.Set("Accept", "text/html")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := browser.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		if loc := resp.Header.Get("Location"); loc != "" {
			fmt.Println(method, path, "→", resp.StatusCode, loc)
		} else {
			fmt.Println(method, path, "→", resp.StatusCode)
		}
		return string(page)
	}

	visit("GET", "/notes", nil)
	visit("POST", "/login", url.Values{"email": {"jane@example.com"}, "password": {"wrong"}, "next": {"/notes"}})
	visit("POST", "/login", url.Values{"email": {"jane@example.com"}, "password": {"correct horse battery staple"},
		"next": {"/notes"}})
	page := visit("GET", "/notes", nil)
	token := regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`).FindStringSubmatch(page)[1]
	fmt.Println(visit("POST", "/notes", url.Values{"note": {"buy milk"}, "csrf_token": {token}}))
	visit("POST", "/notes", url.Values{"note": {"forged"}})

	// Output:
	// GET /notes → 303 /login?next=%2Fnotes
	// POST /login → 303 /login?error=invalid_credentials&next=%2Fnotes
	// POST /login → 303 /notes
	// GET /notes → 200
	// POST /notes → 200
	// saved "buy milk" for Jane Smith
	// POST /notes → 403
}

// exampleHandler returns a Handler configured by cfg on a memstore with
// one user, Jane Smith (jane@example.com, "correct horse battery staple"),
// and the session cookie of a login of hers.
func exampleHandler(cfg httpadapter.Config) (*httpadapter.Handler, string) {
	ctx := context.Background()
	st := memstore.New()
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1} // cheap for the example; use the default in production
	hash, _ := hasher.Hash("correct horse battery staple")
	st.UpsertUser(ctx, session.User{PasswordHash: hash, Principal: security.Principal{UserID: 42,
		Name: "Jane Smith", Email: "jane@example.com", AccountType: security.AccountCustomer}})
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: hasher})
	if err != nil {
		log.Fatal(err)
	}
	key, _ := st.Secret(ctx, "csrf-key", 32)
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: st})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Sessions, cfg.CSRF = mgr, csrf
	h, err := httpadapter.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	res, err := mgr.Login(ctx, session.LoginRequest{Email: "jane@example.com", Password: "correct horse battery staple",
		Kind: session.KindWeb})
	if err != nil {
		log.Fatal(err)
	}
	return h, res.Token
}

// CSRFField puts the token into a form; CSRFToken gives it alone, for a
// <meta> tag that scripts read to set X-CSRF-Token.
func ExampleCSRFField() {
	h, cookie := exampleHandler(httpadapter.Config{})
	page := template.Must(template.New("").Parse(
		`<meta name="csrf-token" content="{{.Token}}"><form method="post">{{.Field}}</form>`))
	app := h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page.Execute(w, map[string]any{"Token": httpadapter.CSRFToken(r), "Field": httpadapter.CSRFField(r)})
	}))

	r := httptest.NewRequest("GET", "/settings", nil)
	r.AddCookie(&http.Cookie{Name: httpadapter.DefaultCookieName, Value: cookie})
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	fmt.Println(regexp.MustCompile(`[0-9a-f]{84}`).ReplaceAllString(w.Body.String(), "<token>"))
	// Output:
	// <meta name="csrf-token" content="<token>"><form method="post"><input type="hidden" name="csrf_token" value="<token>"></form>
}

// RequireLogin sends a browser to the login page and answers an API client
// with the JSON 401.
func ExampleHandler_RequireLogin() {
	h, _ := exampleHandler(httpadapter.Config{})
	page := h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "account page")
	}))
	for _, accept := range []string{"text/html", "application/json"} {
		r := httptest.NewRequest("GET", "/account?tab=keys", nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		page.ServeHTTP(w, r)
		if w.Code == http.StatusSeeOther {
			fmt.Println(accept, w.Code, w.Header().Get("Location"))
		} else {
			fmt.Println(accept, w.Code, strings.TrimSpace(w.Body.String()))
		}
	}
	// Output:
	// text/html 303 /login?next=%2Faccount%3Ftab%3Dkeys
	// application/json 401 {"success":false,"message":"Authentication required","error":"unauthenticated"}
}

// A host handler answers in the adapter's envelope.
func ExampleWriteSuccess() {
	w := httptest.NewRecorder()
	httpadapter.WriteSuccess(w, http.StatusCreated, map[string]int{"order_id": 12}, "Order placed")
	fmt.Println(w.Code, w.Header().Get("Content-Type"), strings.TrimSpace(w.Body.String()))
	// Output:
	// 201 application/json {"success":true,"data":{"order_id":12},"message":"Order placed"}
}

// A refusal the host decides itself.
func ExampleWriteError() {
	w := httptest.NewRecorder()
	httpadapter.WriteError(w, http.StatusConflict, "out_of_stock", "That item is sold out")
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	// Output:
	// 409 {"success":false,"message":"That item is sold out","error":"out_of_stock"}
}

// Fail answers a domain error as the adapter's endpoints do; an unexpected
// error becomes a 500 whose cause stays in the log.
func ExampleHandler_Fail() {
	h, _ := exampleHandler(httpadapter.Config{})
	for _, err := range []error{
		fmt.Errorf("order 12: %w", security.ErrNotFound),
		security.Invalid("quantity", "must be positive"),
		errors.New("db: connection reset"),
	} {
		w := httptest.NewRecorder()
		h.Fail(w, httptest.NewRequest("GET", "/orders/12", nil), err)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 404 {"success":false,"message":"Not found","error":"not_found"}
	// 400 {"success":false,"message":"quantity: must be positive","error":"invalid_request"}
	// 500 {"success":false,"message":"internal error","error":"internal_error"}
}
