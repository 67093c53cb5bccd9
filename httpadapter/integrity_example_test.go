package httpadapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Serve the file-integrity endpoints for a Monitor: a staff user with the
// permission lists the alerts of a scan and looks at a diff.
func Example_fileIntegrity() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "propsec-example-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "index.php"), []byte("<?php\necho 'hello';\n"), 0o644)

	st := memstore.New()
	mon, err := integrity.New(integrity.Config{Store: st, Key: []byte("a 32-byte key from the host's KMS"),
		Roots: []string{dir}})
	if err != nil {
		log.Fatal(err)
	}
	defer mon.Close() // after the server: it waits for a running check
	mon.Init(ctx)

	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1} // cheap for the example
	hash, _ := hasher.Hash("correct horse battery staple")
	st.UpsertUser(ctx, session.User{PasswordHash: hash, Principal: security.Principal{UserID: 42, Name: "Jane Smith",
		Email: "jane@example.com", AccountType: security.AccountStaff,
		Permissions: []security.Permission{security.PermFileIntegrityAlertsManage}}})
	mgr, _ := session.New(session.Config{Store: st, Users: st, Hasher: hasher})
	key, _ := st.Secret(ctx, "csrf-key", 32)
	csrf, _ := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: st})
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf, Integrity: mon})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	login, _ := mgr.Login(ctx, session.LoginRequest{Email: "jane@example.com",
		Password: "correct horse battery staple", Kind: session.KindMobile})

	get := func(path string, v any) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(v)
	}

	// Someone edits a script; a scan (here in process: POST
	// /api/security/run-integrity-check starts one in the background)
	// raises an alert.
	os.WriteFile(filepath.Join(dir, "index.php"), []byte("<?php\nsystem($_GET['c']);\n"), 0o644)
	mon.Scan(ctx)

	var list struct {
		Total int
		Data  []struct {
			ID       int64
			Change   string
			Severity string
		}
	}
	get("/api/security/file-integrity-alerts?status=0&severity=critical", &list)
	a := list.Data[0]
	fmt.Println(list.Total, a.Change, a.Severity)

	var diff struct {
		Data struct {
			Diff         string
			LinesAdded   int `json:"lines_added"`
			LinesRemoved int `json:"lines_removed"`
		}
	}
	get(fmt.Sprintf("/api/security/file-diff?alert_id=%d", a.ID), &diff)
	fmt.Print(diff.Data.Diff)
	fmt.Println(diff.Data.LinesAdded, diff.Data.LinesRemoved)
	// Output:
	// 1 modified critical
	// --- a/index.php
	// +++ b/index.php
	// @@ -1,2 +1,2 @@
	//  <?php
	// -echo 'hello';
	// +system($_GET['c']);
	// 1 1
}
