-- 0005: step-up verification (session.VerificationStore) and second
-- factors (session.FactorStore). Only hashes of verification ids, e-mailed
-- codes and recovery codes are stored; TOTP secrets are sealed under a key
-- kept outside the database (session.Config.FactorKey). Times are unix
-- nanoseconds, as in 0001; NULL confirmed_at and used_at mean not yet.
CREATE TABLE verifications (
	id_hash           bytea       PRIMARY KEY,
	user_id           bigint      NOT NULL,
	kind              text        NOT NULL,
	ip                text        NOT NULL,
	user_agent        text        NOT NULL,
	location          text        NOT NULL,
	methods           text        NOT NULL,
	reason            text        NOT NULL,
	new_ip            boolean     NOT NULL,
	password_breached boolean     NOT NULL,
	code_hash         bytea,
	attempts          integer     NOT NULL DEFAULT 0,
	created_at        bigint      NOT NULL,
	expires_at        bigint      NOT NULL
);

CREATE INDEX verifications_expires ON verifications (expires_at);

CREATE TABLE totp_factors (
	user_id      bigint      PRIMARY KEY,
	sealed       bytea       NOT NULL,
	confirmed_at bigint,
	last_step    bigint      NOT NULL DEFAULT 0,
	created_at   bigint      NOT NULL
);

CREATE TABLE recovery_codes (
	user_id   bigint      NOT NULL,
	code_hash bytea       NOT NULL,
	used_at   bigint,
	PRIMARY KEY (user_id, code_hash)
);
