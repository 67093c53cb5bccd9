package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childArgsEnv, when set (to a JSON array of flags), makes the test binary
// run the example server with those flags instead of the tests: the
// multi-instance tests start real server processes this way.
const childArgsEnv = "PROPSEC_EXAMPLE_SERVER_ARGS"

func TestMain(m *testing.M) {
	if js := os.Getenv(childArgsEnv); js != "" {
		var args []string
		if err := json.Unmarshal([]byte(js), &args); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, args, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverProcess starts the example server as a process of its own on a
// free port and returns its base URL and what it printed on stdout before
// it was ready; it is stopped (SIGTERM, then killed after 20 s) when t
// ends.
func serverProcess(t *testing.T, args ...string) (base string, printed []string) {
	t.Helper()
	js, err := json.Marshal(append([]string{"-addr", "127.0.0.1:0"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(js))
	stderr := new(lockedBuffer)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server process output:\n%s", stderr.String())
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("server process: %v\n%s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("server process did not stop on SIGTERM\n%s", stderr.String())
		}
	})
	return awaitListening(t, out, func(why string) string {
		if why == "exited" {
			return "server process exited before listening:\n" + stderr.String()
		}
		return "server process not listening after 2 minutes:\n" + stderr.String()
	})
}

// lockedBuffer collects a process's output for a failure message; it may
// be read while the process still writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
