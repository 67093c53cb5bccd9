-- 0001: users, sessions, blacklist, login history, CSRF nonces, secrets and
-- the audit event log. Times are INTEGER unix nanoseconds (UTC); the zero
-- time.Time is stored as -9223372036854775808 except in revoked_at, where it
-- is NULL.

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	name          TEXT    NOT NULL,
	email         TEXT    NOT NULL,
	-- email_key is the trimmed, lower-cased email: emails compare
	-- case-insensitively and are unique.
	email_key     TEXT    NOT NULL UNIQUE,
	account_type  TEXT    NOT NULL,
	permissions   TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
	password_hash TEXT    NOT NULL DEFAULT ''
) STRICT;

-- user_id deliberately has no foreign key: the users of the session store
-- may live in the host's own directory.
CREATE TABLE sessions (
	id           TEXT    PRIMARY KEY,
	token_hash   BLOB    NOT NULL,
	user_id      INTEGER NOT NULL,
	kind         TEXT    NOT NULL,
	ip           TEXT    NOT NULL,
	user_agent   TEXT    NOT NULL,
	location     TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	last_active  INTEGER NOT NULL,
	idle_timeout INTEGER NOT NULL, -- nanoseconds
	expires_at   INTEGER NOT NULL,
	revoked_at   INTEGER           -- NULL while not revoked
) STRICT;
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_last_active ON sessions (last_active DESC, id);
CREATE INDEX sessions_user_last_active ON sessions (user_id, last_active DESC, id);

CREATE TABLE login_ips (
	user_id INTEGER NOT NULL,
	ip      TEXT    NOT NULL,
	PRIMARY KEY (user_id, ip)
) STRICT, WITHOUT ROWID;

CREATE TABLE blacklist (
	user_id             INTEGER PRIMARY KEY,
	user_name           TEXT    NOT NULL,
	reason              TEXT    NOT NULL,
	blacklisted_by      INTEGER NOT NULL,
	blacklisted_by_name TEXT    NOT NULL,
	created_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE login_failures (
	id  INTEGER PRIMARY KEY,
	key TEXT    NOT NULL,
	at  INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_key_at ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE nonces (
	hash       BLOB    PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX nonces_expires_at ON nonces (expires_at);

CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	time             INTEGER NOT NULL,
	type             TEXT    NOT NULL,
	actor_user_id    INTEGER NOT NULL,
	actor_session_id TEXT    NOT NULL,
	subject_user_id  INTEGER NOT NULL,
	subject          TEXT    NOT NULL,
	ip               TEXT    NOT NULL,
	details          TEXT -- JSON object of strings; NULL when empty
) STRICT;
CREATE INDEX events_type_time ON events (type, time);
