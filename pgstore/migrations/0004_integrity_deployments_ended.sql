-- 0004: the history of each host's ended deployment windows
-- (integrity.Store.EndedDeployments). A commit that ends a host's open
-- deployment moves its row here, with how it ended; seq orders two ended
-- at the same time.
CREATE TABLE integrity_deployments_ended (
	seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	host          text   NOT NULL,
	id            text   NOT NULL,
	description   text   NOT NULL,
	started_at    bigint NOT NULL,
	actor_user_id bigint NOT NULL,
	mac           bytea  NOT NULL,
	ended_at      bigint NOT NULL,
	ended_by      bigint NOT NULL,
	accepted      bigint NOT NULL
);

CREATE INDEX integrity_deployments_ended_at ON integrity_deployments_ended (host, ended_at DESC, seq DESC);
