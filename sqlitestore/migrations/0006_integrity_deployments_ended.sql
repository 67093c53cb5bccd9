-- 0006: the history of ended deployment windows
-- (integrity.Store.EndedDeployments). A commit that ends the open
-- deployment moves its row here, with how it ended; seq orders two ended
-- at the same time.
CREATE TABLE integrity_deployments_ended (
	seq           INTEGER PRIMARY KEY,
	id            TEXT    NOT NULL,
	description   TEXT    NOT NULL,
	started_at    INTEGER NOT NULL,
	actor_user_id INTEGER NOT NULL,
	mac           BLOB    NOT NULL,
	ended_at      INTEGER NOT NULL,
	ended_by      INTEGER NOT NULL,
	accepted      INTEGER NOT NULL
) STRICT;

CREATE INDEX integrity_deployments_ended_at ON integrity_deployments_ended (ended_at DESC, seq DESC);
