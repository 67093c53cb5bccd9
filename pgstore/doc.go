// Package pgstore keeps propsec's sessions, users, blacklist, login
// throttling, CSRF nonces and secrets and the audit log in PostgreSQL, so
// that several instances of a host application, behind a load balancer,
// share them. It uses github.com/jackc/pgx/v5 with pgxpool.
//
// # Use
//
//	st, err := pgstore.Open(ctx, "postgres://propsec:secret@db.internal:5432/propsec")
//	if err != nil { … }
//	defer st.Close()
//
// [Open] brings the schema up to date and returns a [Store] that
// implements session.Store, session.UserDirectory, session.PasswordUpdater,
// session.SessionUserLoader, security.NonceStore, security.SecretStore and
// security.AuditLog. The integrity and report stores are not implemented
// yet.
//
// # Connection pool
//
// The pool is pgxpool's, set from the DSN's pool_* parameters where it has
// them, and otherwise: max(4, 2×GOMAXPROCS) connections,
// [DefaultMaxConnIdleTime], [DefaultMaxConnLifetime],
// [DefaultHealthCheckPeriod] and [DefaultConnectTimeout]. The tables live
// in the first schema of the search_path (search_path=… in the DSN).
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
// # Transient errors
//
// An operation that failed without effect is run again, after 5, 25 and
// 100 ms: when nothing reached the server, when PostgreSQL rolled the
// transaction back for a serialization failure or a deadlock, or when the
// connection was lost (a server restart, a dropped pooled connection) at a
// transaction's BEGIN or during a one-row read, which is always safe to
// repeat. A connection lost after a write was sent is reported, not
// retried, since the write may have committed; no failure is ever
// reported as security.ErrNotFound.
//
// # Times
//
// Times are bigint unix nanoseconds in UTC ([security.EventNanos]), as in
// sqlitestore; the zero time is the smallest int64, except in revoked_at,
// where it is NULL.
package pgstore
