-- 0001: users, sessions, blacklist, login history, CSRF nonces, secrets and
-- the audit event log with its hash chain. Times are bigint unix
-- nanoseconds (UTC, security.EventNanos); the zero time.Time is stored as
-- -9223372036854775808 except in revoked_at, where it is NULL.

CREATE TABLE users (
	id            bigint PRIMARY KEY,
	name          text   NOT NULL,
	email         text   NOT NULL,
	-- email_key is the trimmed, lower-cased email: emails compare
	-- case-insensitively and are unique.
	email_key     text   NOT NULL UNIQUE,
	account_type  text   NOT NULL,
	permissions   text   NOT NULL DEFAULT '[]', -- JSON array of strings
	password_hash text   NOT NULL DEFAULT ''
);

-- user_id deliberately has no foreign key: the users of the session store
-- may live in the host's own directory.
CREATE TABLE sessions (
	id           text   PRIMARY KEY,
	token_hash   bytea  NOT NULL UNIQUE,
	user_id      bigint NOT NULL,
	kind         text   NOT NULL,
	ip           text   NOT NULL,
	user_agent   text   NOT NULL,
	location     text   NOT NULL,
	created_at   bigint NOT NULL,
	last_active  bigint NOT NULL,
	idle_timeout bigint NOT NULL, -- nanoseconds
	expires_at   bigint NOT NULL,
	revoked_at   bigint           -- NULL while not revoked
);
CREATE INDEX sessions_last_active ON sessions (last_active DESC, id);
CREATE INDEX sessions_user_last_active ON sessions (user_id, last_active DESC, id);

CREATE TABLE login_ips (
	user_id bigint NOT NULL,
	ip      text   NOT NULL,
	PRIMARY KEY (user_id, ip)
);

CREATE TABLE blacklist (
	user_id             bigint PRIMARY KEY,
	user_name           text   NOT NULL,
	reason              text   NOT NULL,
	blacklisted_by      bigint NOT NULL,
	blacklisted_by_name text   NOT NULL,
	created_at          bigint NOT NULL
);

CREATE TABLE login_failures (
	id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key text   NOT NULL,
	at  bigint NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE nonces (
	hash       bytea  PRIMARY KEY,
	expires_at bigint NOT NULL
);
CREATE INDEX nonces_expires_at ON nonces (expires_at);

CREATE TABLE secrets (
	name  text  PRIMARY KEY,
	value bytea NOT NULL
);

-- The audit log, a hash chain (security.AuditLog): prev_hash is the hash of
-- the event before (32 zero bytes for the first), hash = BLAKE3(prev_hash ||
-- canonical encoding of the event, ID included). IDs are assigned by the
-- store, from events_head, without gaps.
CREATE TABLE events (
	id               bigint PRIMARY KEY,
	time             bigint NOT NULL,
	type             text   NOT NULL,
	actor_user_id    bigint NOT NULL,
	actor_session_id text   NOT NULL,
	subject_user_id  bigint NOT NULL,
	subject          text   NOT NULL,
	ip               text   NOT NULL,
	details          text, -- JSON object of strings; NULL when empty
	prev_hash        bytea  NOT NULL CHECK (length(prev_hash) = 32),
	hash             bytea  NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX events_type_time ON events (type, time);
CREATE INDEX events_hash ON events (hash);
CREATE INDEX events_prev_hash ON events (prev_hash);

-- The chain's head, one row: the highest ID ever assigned and its hash.
-- Appends lock it (SELECT … FOR UPDATE) inside their transaction, so they
-- are serialized across every instance; it also remembers IDs of a deleted
-- tail, which VerifyEvents then reports.
CREATE TABLE events_head (
	one     integer PRIMARY KEY CHECK (one = 1),
	last_id bigint  NOT NULL,
	hash    bytea   NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO events_head (one, last_id, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');
