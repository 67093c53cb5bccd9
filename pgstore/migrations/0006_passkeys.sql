-- 0006: passkeys (package passkey). One row per WebAuthn credential, with
-- every field of its credential record; ceremonies hold the server-side
-- state between a begin and its finish, taken (deleted) by the finish.
CREATE TABLE passkeys (
	seq                bigint  GENERATED ALWAYS AS IDENTITY,
	id                 bytea   PRIMARY KEY,
	user_id            bigint  NOT NULL,
	name               text    NOT NULL,
	public_key         bytea   NOT NULL,
	attestation_type   text    NOT NULL,
	attestation_format text    NOT NULL,
	attestation        bytea   NOT NULL,
	transports         text    NOT NULL, -- JSON array
	aaguid             bytea   NOT NULL,
	sign_count         bigint  NOT NULL,
	user_present       boolean NOT NULL,
	user_verified      boolean NOT NULL,
	backup_eligible    boolean NOT NULL,
	backup_state       boolean NOT NULL,
	clone_warning      boolean NOT NULL,
	created_at         bigint  NOT NULL,
	last_used_at       bigint
);

CREATE INDEX passkeys_user ON passkeys (user_id, created_at, seq);

CREATE TABLE passkey_ceremonies (
	id         text   PRIMARY KEY,
	kind       text   NOT NULL,
	user_id    bigint NOT NULL,
	binding    text   NOT NULL,
	ip         text   NOT NULL,
	user_agent text   NOT NULL,
	data       bytea  NOT NULL,
	expires_at bigint NOT NULL
);

CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);
