// Package sqlitestore keeps every propsec store in one SQLite database file,
// through the pure-Go driver modernc.org/sqlite (no cgo).
//
// # Use
//
//	st, err := sqlitestore.Open(ctx, "/var/lib/myapp/security.db")
//	if err != nil { … }
//	defer st.Close()
//	mgr, err := session.New(session.Config{Store: st, Users: st})
//
// One [Store] implements [session.Store], [session.UserDirectory],
// [session.PasswordUpdater], [session.PasswordChanger],
// [session.SessionUserLoader], [session.VerificationStore],
// [session.FactorStore], [security.NonceStore],
// [security.SecretStore], [security.EventRecorder], [security.AuditLog],
// [integrity.Store] and [report.Store], with the same semantics as
// package memstore. It
// is safe for concurrent use by many goroutines; several processes may also
// open one file, since every write is a transaction that SQLite serialises.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: once a method that
// writes has returned nil, its change (a revocation, a blacklisting) and the
// audit events that came with it survive a crash of the process or of the
// machine. Each such method is one BEGIN IMMEDIATE transaction on a single
// writer connection, so a change is never stored without its events, or the
// reverse. Reads go through a separate pool of read-only connections and
// never wait for the writer.
//
// There is one exception: [Store.ConsumeNonce], which spends a single-use
// CSRF token, commits on a connection of its own with synchronous=NORMAL, so
// that a POST does not wait for an fsync (a host form POST with a single-use
// token: 341 → 66 µs of CPU, bench/README.md). Once it has returned, the
// nonce stays used across a crash or kill of the process, and every process
// on the file sees it at once. A crash of the machine (kernel panic, power
// loss) can forget the nonces consumed since the WAL was last synced to
// disk, which happens at every other write of the store (every login,
// logout, revocation, audit event) and at every checkpoint (at the latest
// once the WAL has grown by 1,000 pages: a few hundred nonces). After such a
// crash, a token spent in that window, if not yet expired (single-use tokens
// last an hour by default), would be accepted once more. Replaying it needs
// the token itself, and a request carrying the victim's session (tokens are
// bound to it): a CSRF attacker who can read the victim's page. Nothing else
// is lost: synchronous is a setting of each connection, the WAL records
// commits in order, and a FULL commit syncs the whole WAL up to it, so a
// nonce commit before it becomes durable with it and none after it can undo
// it.
//
// # File permissions
//
// The database holds password hashes, secrets such as the CSRF key, and
// the integrity baseline, so [Open] creates a new database file mode 0600
// whatever the umask, and SQLite creates its -wal and -shm files with the
// database's mode. Opening an existing database that group or others can
// read logs a warning ([Options].Logger) with the chmod 600 command to run.
// The integrity package stores the copies it keeps for diffs encrypted;
// migration 0005 deletes the plaintext copies of earlier versions (with
// secure_delete, and a checkpoint that truncates the WAL), so older backups
// are the only place they remain.
//
// # Schema
//
// The schema is created and upgraded by versioned migrations compiled into
// the binary (migrations/NNNN_name.sql), each applied in its own transaction
// and tracked in PRAGMA user_version. [Open] refuses a database written by a
// newer version of this package. Times are stored as INTEGER unix
// nanoseconds in UTC, and read back in UTC; times outside the years
// 1678–2262 are clamped to that range. Empty permission lists and empty
// event details read back as nil. Credentials are stored only as their
// hashes.
//
// # Performance
//
// [session.Manager.Authenticate] reads a session and its user by token hash
// on every request. These point reads (session by token hash, user by id,
// and the two joined) run on read-only connections of their own, through
// the driver's standard database/sql/driver interface rather than
// database/sql: prepared once per connection, without database/sql's
// per-query pool handling and argument and result conversion, which took
// about half of a lone point read (SessionByTokenHash 19.2 → 10.5 µs) and a
// tenth of an Authenticate (bench/README.md). They honour ctx while they
// wait for a connection but not once the query has started: a lookup by a
// unique key is over in microseconds, and a context the driver can watch
// costs more than that. Each query ends its read transaction, so a revocation
// committed a moment before is seen. Run the benchmarks with
//
//	go test -run '^$' -bench . ./sqlitestore
//
// # File integrity
//
// Paths, roots and symlink targets are stored byte for byte as BLOBs and
// ordered by SQLite's binary comparison, so file names that are not UTF-8
// work. Each baseline entry is its key and one packed record, since
// reading a column costs about 0.25 µs through database/sql: iterating a
// baseline costs about 1.7 µs an entry. [Store.Entries] and
// [Store.Observations] read 1024 rows per query (keyset pagination on the
// reader pool) and hold no connection while the caller consumes them, so
// a slow scan never holds up the writer or a WAL checkpoint; an iteration
// across a [Store.Commit] never yields a record twice or out of order, but
// may see part of the change.
//
// [Store.Stage] only appends, to staging tables and to the content data
// (written once, never copied); [Store.Commit] applies a set in one
// transaction with its seal check, seals, deployment end and events. The
// content is deduplicated by hash when committed, and content no entry
// refers to any more is dropped by a sweep of the baseline in the commits
// that remove or replace entries that had some. Alert lists are served by
// indexes for every filter and order of the documented API.
//
// Measured on 2 shared cores with a tree of 200,000 small text files:
// recording the baseline took 9–11 s (7.3 s of CPU) and a scan that finds
// nothing changed 1.6–4.8 s (3 s of CPU), with a peak RSS under 30 MiB for
// the whole process (memstore: 1.1–2.4 s and 250 MiB). The benchmarks, on
// a tree of 4,000 files:
//
//	go test -run '^$' -bench Integrity ./sqlitestore
//
// # Errors
//
// A missing row is an error wrapping [security.ErrNotFound]. Any failure of
// SQLite itself is returned wrapped, and is never reported as not found.
package sqlitestore
