-- 0007: step-up verification (session.VerificationStore) and second
-- factors (session.FactorStore). Only hashes of verification ids, e-mailed
-- codes and recovery codes are stored; TOTP secrets are sealed under a key
-- kept outside the database (session.Config.FactorKey).
CREATE TABLE verifications (
	id_hash           BLOB    PRIMARY KEY,
	user_id           INTEGER NOT NULL,
	kind              TEXT    NOT NULL,
	ip                TEXT    NOT NULL,
	user_agent        TEXT    NOT NULL,
	location          TEXT    NOT NULL,
	methods           TEXT    NOT NULL,
	reason            TEXT    NOT NULL,
	new_ip            INTEGER NOT NULL,
	password_breached INTEGER NOT NULL,
	code_hash         BLOB,
	attempts          INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX verifications_expires ON verifications (expires_at);

CREATE TABLE totp_factors (
	user_id      INTEGER PRIMARY KEY,
	sealed       BLOB    NOT NULL,
	confirmed_at INTEGER,
	last_step    INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
	user_id   INTEGER NOT NULL,
	code_hash BLOB    NOT NULL,
	used_at   INTEGER,
	PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;
