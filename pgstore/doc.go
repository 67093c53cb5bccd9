// Package pgstore keeps propsec's sessions, users, blacklist, login
// throttling, CSRF nonces and secrets, file integrity alerts and baselines
// and the audit log in PostgreSQL, so that several instances of a host
// application, behind a load balancer, share them. It uses
// github.com/jackc/pgx/v5 with pgxpool.
//
// # Use
//
//	st, err := pgstore.Open(ctx, "postgres://propsec:secret@db.internal:5432/propsec")
//	if err != nil { … }
//	defer st.Close()
//
// [Open] brings the schema up to date and returns a [Store] that
// implements session.Store, session.UserDirectory, session.PasswordUpdater,
// session.PasswordChanger, session.SessionUserLoader,
// session.VerificationStore, session.FactorStore, security.NonceStore,
// security.SecretStore, security.EventRecorder, security.AuditLog, integrity.Store,
// integrity.HostStores, integrity.ScanLocker and report.Store.
//
// # Connection pool
//
// The pool is pgxpool's, set from the DSN's pool_* parameters where it has
// them, and otherwise: max(8, 2×GOMAXPROCS) connections,
// [DefaultMaxConnIdleTime], [DefaultMaxConnLifetime],
// [DefaultHealthCheckPeriod] and [DefaultConnectTimeout]. The tables live
// in the first schema of the search_path (search_path=… in the DSN).
// When PostgreSQL runs on the same machine, its Unix socket
// (host=/var/run/postgresql) cost 5–12% less CPU per request, server and
// database together, than TCP on loopback in bench/postgres.sh
// (bench/README.md).
//
// # Migrations
//
// The schema is versioned: embedded files migrations/NNNN_name.sql, and a
// table propsec_schema recording those applied. Open applies the missing
// ones in one transaction that first takes an advisory lock
// (pg_advisory_xact_lock), so when several instances start at once exactly
// one migrates and the others find the schema current.
//
// # Concurrency across instances
//
// Every write that must be atomic is one statement, or one transaction
// holding row or advisory locks; nothing reads and then writes:
//
//   - consuming a CSRF nonce is INSERT … ON CONFLICT DO NOTHING, so exactly
//     one of any number of concurrent replays succeeds;
//   - revoking a session is a conditional UPDATE … WHERE revoked_at IS NULL;
//   - blacklisting inserts the entry and revokes the user's live sessions
//     in one transaction, serialized with session creation of that user by
//     a per-user advisory lock;
//   - the audit chain's appends lock its one-row head (SELECT … FOR UPDATE)
//     and assign IDs without gaps.
//
// Nothing is cached: every read goes to the database, so a revocation or
// blacklisting made on one instance is seen by all at their next request.
//
// # File integrity on several machines
//
// Each machine watches its own files, so integrity data is kept per host,
// the name an integrity.Monitor is configured with (integrity.Config.Host,
// by default the machine's host name). The Store implements
// integrity.HostStores: [Store.IntegrityStore] returns the integrity.Store
// of one host, and integrity.New uses it with the Monitor's host, so
//
//	mon, err := integrity.New(integrity.Config{Store: st, Key: key, Roots: roots})
//
// works on this machine's data. A host's baseline entries, seals,
// observations, staged changes and open deployment are its own, even when
// two machines watch the same root path; alerts are shared (every
// instance lists and resolves every machine's alerts, each carrying its
// host, and the Monitor refuses to accept or diff another host's alert,
// whose file is not on its machine); known-good content is shared, by its
// hash, and kept while any host's entry refers to it. The Monitor stores
// that content encrypted under a key derived from its integrity.Config.Key
// (integrity's "Content at rest"), so machines that share a schema must
// share that Key to diff content they have in common: a copy another
// machine's Key encrypted is refused ("not diffed: … failed decryption").
// Migration 0003 deletes the plaintext copies of earlier versions; run
// VACUUM FULL integrity_content after upgrading so that the table's files
// no longer hold them (the server's WAL archive and older backups still
// do). Used directly as an
// integrity.Store, a Store is the Store of os.Hostname() ("localhost" if
// that fails).
//
// At most one integrity operation (scan, baseline, accepting an alert,
// deployment) runs at a time per host, across every process: the host's
// Store implements integrity.ScanLocker, which the Monitor takes after its
// own lock. The lock is a session-level advisory lock
// (pg_try_advisory_lock, keyed by schema and host) held on a connection
// taken from the pool for the operation's duration, so a process that
// crashes or loses its connection frees it at once. A row per host names
// the check the holder runs: every attempt to take the lock locks that row
// first (SELECT … FOR UPDATE) and sets it in the transaction that gets the
// lock, so a refused attempt always reads the running check, whose id
// Monitor.Start returns with its conflict (409 over HTTP). The Monitor
// records its checks through the lock's connection about every second, for
// Monitor.Progress on any instance (the last 100 of each host are kept); a
// failure there means the lock may be lost, and fails the check. A check
// still recorded as running whose session no longer holds the lock is
// reported failed ("interrupted"). Waiting for the lock (all operations
// but Start) blocks on pg_advisory_lock outside any transaction, then
// tries again. The lock needs session pooling: behind a pooler in
// transaction mode (such as PgBouncer's), session-level advisory locks do
// not work.
//
// Commits of baseline changes, of every host, take a transaction-level
// advisory lock, so that dropping content no entry refers to never races
// with a commit that refers to it again, and a root's seal is checked and
// written by one commit at a time.
//
// # Transient errors and outages
//
// An operation that failed without effect is run again, after 5, 25 and
// 100 ms: when nothing reached the server, or when PostgreSQL rolled the
// transaction back for a serialization failure or a deadlock. When the
// connection was lost, closed or refused (a server restart or crash, a
// dropped pooled connection), the pool is reset, closing every other
// connection it holds, which the same failure most likely broke too; a
// transaction's BEGIN or a read, which are always safe to repeat, are then
// run once more, at once, on a new connection, and fail if the server is
// still down. A connection lost after a write was sent is reported, not
// retried, since the write may have committed; no failure is ever
// reported as security.ErrNotFound.
//
// A connection taken from the pool is pinged first when it has been idle
// for a second (pgxpool's default), or when its socket shows, by a
// non-blocking peek that sends nothing (about 0.4 µs, against some 40 µs
// for a one-row read on loopback), that the server closed it or sent
// something unasked. So after PostgreSQL restarts, the connections of
// before are never handed to a query, and the first request on every
// instance succeeds, even a write that is never run twice. The peek is
// made on Linux, macOS and the BSDs; elsewhere only the idle ping and the
// reset apply. The pages of a baseline or of its
// observations are each read again this way. What runs on a scan lock's
// connection is not retried: a failure there may mean the lock is lost, and
// the connection is closed, which frees it.
//
// An error that says the database cannot be reached or cannot do the work
// now (a lost or refused connection, a server starting up or shutting
// down, SQLSTATE class 53 such as too_many_connections, or a transient
// error still failing after the retries) also matches
// security.ErrUnavailable, which httpadapter answers with 503: an outage
// is never taken for a bad credential or a missing row.
//
// # Times
//
// Times are bigint unix nanoseconds in UTC ([security.EventNanos]), as in
// sqlitestore; the zero time is the smallest int64, except in revoked_at,
// where it is NULL. File names (roots, paths) are bytea, compared byte by
// byte; a baseline entry is one packed record, as in sqlitestore
// (internal/integritysql).
package pgstore
