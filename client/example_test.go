package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"testing"

	"github.com/propops/propsec/client"
)

// exampleServer is the address of a server of the test stack that TestMain
// starts for the example.
var exampleServer string

// Example is the README's sample: log in with a bearer token, list one
// user's sessions, try to end one (here the caller's own current session,
// which the server refuses) and read the typed refusal.
func Example() {
	ctx := context.Background()
	c, err := client.New(exampleServer) // e.g. "https://propops.example.com"
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.IssueToken(ctx, "user1@example.com", "correct horse battery 1"); err != nil {
		log.Fatal(err)
	}
	list, err := c.Sessions(ctx, client.SessionQuery{UserID: 1})
	if err != nil {
		log.Fatal(err)
	}
	err = c.TerminateSession(ctx, list.Sessions[0].SessionID) // a CSRF token is fetched for the call
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(list.Count, e.Status, e.Code)
	}
	// Output: 1 400 invalid_request
}

// mainFixture stands in for a testing.T in TestMain.
type mainFixture struct{ cleanups []func() }

func (f *mainFixture) Helper()           {}
func (f *mainFixture) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (f *mainFixture) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *mainFixture) TempDir() string {
	d, err := os.MkdirTemp("", "propsec-client-")
	if err != nil {
		panic(err)
	}
	f.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestMain(m *testing.M) {
	f := &mainFixture{}
	exampleServer = newServer(f, false).srv.URL
	code := m.Run()
	for _, fn := range slices.Backward(f.cleanups) {
		fn()
	}
	os.Exit(code)
}
