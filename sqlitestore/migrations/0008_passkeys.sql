-- 0008: passkeys (package passkey). One row per WebAuthn credential, with
-- every field of its credential record; ceremonies hold the server-side
-- state between a begin and its finish, taken (deleted) by the finish.
CREATE TABLE passkeys (
	id                 BLOB    PRIMARY KEY,
	user_id            INTEGER NOT NULL,
	name               TEXT    NOT NULL,
	public_key         BLOB    NOT NULL,
	attestation_type   TEXT    NOT NULL,
	attestation_format TEXT    NOT NULL,
	attestation        BLOB    NOT NULL,
	transports         TEXT    NOT NULL, -- JSON array
	aaguid             BLOB    NOT NULL,
	sign_count         INTEGER NOT NULL,
	user_present       INTEGER NOT NULL,
	user_verified      INTEGER NOT NULL,
	backup_eligible    INTEGER NOT NULL,
	backup_state       INTEGER NOT NULL,
	clone_warning      INTEGER NOT NULL,
	created_at         INTEGER NOT NULL,
	last_used_at       INTEGER
) STRICT;

CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

CREATE TABLE passkey_ceremonies (
	id         TEXT    PRIMARY KEY,
	kind       TEXT    NOT NULL,
	user_id    INTEGER NOT NULL,
	binding    TEXT    NOT NULL,
	ip         TEXT    NOT NULL,
	user_agent TEXT    NOT NULL,
	data       BLOB    NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);
