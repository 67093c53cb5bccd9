// Package security holds the vocabulary every other propsec package shares:
// who is acting ([Principal]), what they may do ([Permission]), what time it is
// ([Clock]), how credentials are made and stored ([NewToken], [HashToken]),
// what happened ([Event]) and what went wrong (the sentinel errors such as
// [ErrNotFound]). It also issues and checks CSRF tokens ([CSRF]).
//
// # Credentials
//
// Every credential propsec hands out (session cookies, bearer tokens) is 32
// bytes from crypto/rand, written as 64 lowercase hex digits. Only
// [HashToken] of a credential is ever stored, so a copy of the database does
// not let anyone log in. Public identifiers such as a session id ("sess_…")
// are never credentials.
//
// # Errors
//
// Functions across propsec return errors that wrap the sentinels of this
// package; callers branch on them with errors.Is. [InvalidError] carries a
// message that is safe to show to the client; [ThrottledError] carries how
// long to wait.
//
// # CSRF
//
// [CSRF] issues tokens bound to one session. By default a token is
// single-use: it carries its own proof (a keyed BLAKE3 MAC over the session id,
// a random nonce and an expiry), so issuing one writes nothing, and checking
// one records its nonce's hash in a [NonceStore], which refuses a second use.
// A session may hold any number of outstanding tokens (one per tab); each
// expires after [CSRFConfig.TTL].
//
// How long "used" lasts is the NonceStore's durability: a store that loses
// recorded nonces lets each of their tokens be accepted once more until it
// expires. The bundled stores: memstore forgets every nonce when the
// process ends; sqlitestore keeps them across a crash of the process but
// may forget those consumed in the moments before a crash of the machine
// (power loss, kernel panic; see its Durability section); pgstore keeps
// them as durably as PostgreSQL keeps any commit (with synchronous_commit
// on, the default, across a crash of the database server).
//
// # Metrics
//
// [Observer] is the hook through which session, httpadapter, integrity and
// breach report what they do (each takes one in its Config; nil measures
// nothing), as [Measurement] values whose [Kind] and Result come from
// fixed sets, never from user data. Package promexport turns them into
// Prometheus metrics; the packages themselves import no exporter.
// [MultiObserver] feeds several observers. A refused CSRF token is a
// [CSRFError] whose [CSRFReason] says why.
package security
