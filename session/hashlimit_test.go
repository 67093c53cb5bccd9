package session_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/stretchr/testify/require"
)

// The manager's Hasher is a struct, not an interface, and the semaphore
// around it is unexported, so the package offers no hook to count running
// hashes. hashesRunning counts them from outside instead: it takes a
// snapshot of every goroutine's stack (runtime.Stack stops the world, so the
// snapshot is consistent) and counts the goroutines started by hashRound
// that are inside argon2.IDKey, the function every hash and verification
// runs. (argon2's own lane goroutines are "created by argon2.processBlocks"
// and do not have IDKey on their stack, so each hash counts once.)
func hashesRunning(buf *[]byte) int {
	for {
		n := runtime.Stack(*buf, true)
		if n < len(*buf) {
			return countHashing((*buf)[:n])
		}
		*buf = make([]byte, 2*len(*buf))
	}
}

func countHashing(dump []byte) int {
	count := 0
	for _, g := range bytes.Split(dump, []byte("\n\n")) {
		if bytes.Contains(g, []byte("golang.org/x/crypto/argon2.IDKey(")) &&
			bytes.Contains(g, []byte("created by github.com/propops/propsec/session_test.hashRound")) {
			count++
		}
	}
	return count
}

// hashRound logs in logins users at once, all through one manager with
// MaxConcurrentHashes limit, while a sampler counts the hashes running, and
// returns the most it saw at one time. Half the users' stored hashes have
// other parameters than the manager's, so their logins also rehash the
// password (Manager.hash, the other semaphore user), and every fourth login
// is for an unknown email, verified against the manager's dummy hash.
func hashRound(t *testing.T, limit, logins int) int {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	// Costly enough that a hash lasts milliseconds, so the sampler can
	// catch hashes overlapping when nothing stops them.
	h := session.Hasher{Memory: 2048, Time: 2, Threads: 1}
	stale := session.Hasher{Memory: 1024, Time: 2, Threads: 1}
	for i := range logins {
		hh := h
		if i%2 == 1 {
			hh = stale
		}
		phc, err := hh.Hash(fmt.Sprint("pw-", i))
		require.NoError(t, err)
		require.NoError(t, st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: int64(i + 1),
			Name: fmt.Sprint("User ", i), Email: fmt.Sprintf("u%d@example.com", i), AccountType: security.AccountStaff},
			PasswordHash: phc}))
	}
	m, err := session.New(session.Config{Store: st, Users: st, Hasher: h, MaxConcurrentHashes: limit})
	require.NoError(t, err)

	var maxSeen atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		buf := make([]byte, 1<<16)
		for {
			if n := int64(hashesRunning(&buf)); n > maxSeen.Load() {
				maxSeen.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, logins)
	unknown := func(i int) bool { return i%4 == 3 }
	for i := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			email := fmt.Sprintf("u%d@example.com", i)
			if unknown(i) {
				email = fmt.Sprintf("nobody%d@example.com", i)
			}
			_, errs[i] = m.Login(ctx, session.LoginRequest{Email: email,
				Password: fmt.Sprint("pw-", i), Kind: session.KindMobile, IP: netip.MustParseAddr("203.0.113.10")})
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	<-sampled
	for i, err := range errs {
		if unknown(i) {
			require.ErrorIs(t, err, security.ErrInvalidCredentials, "login %d", i)
		} else {
			require.NoError(t, err, "login %d", i)
		}
	}
	return int(maxSeen.Load())
}

// TestMaxConcurrentHashes checks Config.MaxConcurrentHashes with real
// goroutines: with a limit of 1, eight logins sent at once (verifications,
// rehashes, unknown emails) never have more than one hash running at a time, as seen by
// sampling every goroutine's stack. The control runs the same with a limit
// of 8 and must see two or more at once; it shows the sampler can see
// overlapping hashes, so the first check would fail if the limit were not
// applied.
func TestMaxConcurrentHashes(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes for a while")
	}
	const logins = 8
	t.Run("limit 1", func(t *testing.T) {
		for range 3 {
			got := hashRound(t, 1, logins)
			require.LessOrEqual(t, got, 1, "hashes running at once with MaxConcurrentHashes 1")
			require.Equal(t, 1, got, "the sampler never saw a hash running")
		}
	})
	t.Run("control: limit 8 overlaps", func(t *testing.T) {
		// Overlap is likely but not certain on a busy machine: a few
		// tries.
		best := 0
		for range 5 {
			if best = max(best, hashRound(t, logins, logins)); best >= 2 {
				return
			}
		}
		t.Fatalf("with MaxConcurrentHashes %d the sampler saw at most %d hash at once: it cannot tell", logins, best)
	})
}
