// Package pgtest gives tests a throwaway schema on the PostgreSQL server
// that PROPSEC_TEST_POSTGRES names, so that tests of any package can run
// against pgstore, or a throwaway cluster of their own that they may stop
// and start (PROPSEC_TEST_PGBIN). Without those variables the tests skip,
// with a message saying how to run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by the package; .ci/postgres.sh sets them.
const (
	// EnvVar names the DSN of a server the tests may create schemas on.
	EnvVar = "PROPSEC_TEST_POSTGRES"
	// EnvBin names the directory of initdb, pg_ctl and postgres, for
	// tests that run clusters of their own ([NewCluster]).
	EnvBin = "PROPSEC_TEST_PGBIN"
	// EnvUser names the OS user to run those clusters as; needed when the
	// tests run as root, which PostgreSQL refuses.
	EnvUser = "PROPSEC_TEST_PGUSER"
	// EnvRequired, when set (CI sets it), makes a missing EnvVar or EnvBin
	// fail the test instead of skipping it.
	EnvRequired = "PROPSEC_TEST_POSTGRES_REQUIRED"
)

// skip skips t with msg, or fails it when EnvRequired is set.
func skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(EnvRequired) != "" {
		t.Fatal(msg + " (and " + EnvRequired + " is set: these tests must run here)")
	}
	t.Skip(msg)
}

// DSN returns the DSN of the test server, or skips t when EnvVar is unset.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvVar)
	if dsn == "" {
		skip(t, EnvVar+" not set: set it to a PostgreSQL DSN (postgres://user@127.0.0.1:port/db) to run the PostgreSQL tests")
	}
	return dsn
}

// WithSearchPath returns dsn (a URL or keyword/value pairs) with its
// search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// Schema creates an empty schema, dropped when t ends, and returns the
// DSN that selects it. It skips t when EnvVar is unset.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "propsec_test_" + hex.EncodeToString(b)
	run := func(ctx context.Context, sql string) error { return execSQL(ctx, dsn, sql) }
	if err := run(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := run(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(t, dsn, schema)
}

// execSQL runs one statement on a connection of its own.
func execSQL(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Cluster is a throwaway PostgreSQL cluster of one test, on 127.0.0.1.
type Cluster struct {
	// DSN selects the cluster's database "propsec".
	DSN string

	bin  string
	dir  string
	port int
	cred *syscall.Credential
}

// NewCluster runs initdb in a new directory and starts the server on a free
// loopback port; the cluster is stopped and removed when t ends. It skips t
// when EnvBin is unset.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := os.Getenv(EnvBin)
	if bin == "" {
		skip(t, EnvBin+" not set: set it to PostgreSQL's bin directory (initdb, pg_ctl), "+
			"or run `source .ci/postgres.sh && pg_start`, to run the tests that stop and start a server")
	}
	c := &Cluster{bin: bin}
	dir, err := os.MkdirTemp("", "propsec-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.dir, "data", "postmaster.pid")); err == nil {
			c.run(t, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
		}
		os.RemoveAll(c.dir)
	})
	if name := os.Getenv(EnvUser); name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			t.Fatal(err)
		}
	}
	c.run(t, "initdb", "-D", filepath.Join(dir, "data"), "-U", "propsec", "-A", "trust", "-E", "UTF8", "--no-instructions")
	c.port = freePort(t)
	c.Start(t)
	admin := fmt.Sprintf("postgres://propsec@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	if err := execSQL(context.Background(), admin, "CREATE DATABASE propsec"); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	c.DSN = fmt.Sprintf("postgres://propsec@127.0.0.1:%d/propsec?sslmode=disable", c.port)
	return c
}

// Start starts the server, and waits until it accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", c.port, c.dir), "start")
}

// Stop stops the server at once (pg_ctl -m immediate: like a crash, no
// shutdown checkpoint), so what survives is what the server had made
// durable.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
}

func (c *Cluster) run(t testing.TB, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		t.Fatalf("pgtest: %s %s: %v\n%s\nserver log:\n%s", prog, strings.Join(args, " "), err, out, log)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
