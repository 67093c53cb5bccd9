-- 0002: file integrity monitoring (integrity.Store, integrity.HostStores,
-- integrity.ScanLocker): baseline entries and their seals, known-good
-- content, staged baseline changes, observations, alerts, the open
-- deployments, and the checks run under the scan lock.
--
-- Every machine watches its own files, so baselines, seals, observations,
-- staged changes and deployments are kept per host (the host column, the
-- integrity.Config.Host of the Monitor); alerts are shared by every host
-- and carry theirs; content is shared, addressed by its hash.
--
-- Roots, paths and file paths are bytea: file names as the kernel gives
-- them, byte for byte (they need not be valid UTF-8), and bytea compares
-- byte by byte, the order integrity.Store requires. Hashes, MACs and
-- states are 32-byte bytea (all zeros for "none"). Times are bigint unix
-- nanoseconds (UTC, security.EventNanos).

CREATE TABLE integrity_seals (
	host       text   NOT NULL,
	root       bytea  NOT NULL,
	sum        bytea  NOT NULL,
	entries    bigint NOT NULL,
	updated_at bigint NOT NULL,
	PRIMARY KEY (host, root)
);

-- The baseline. The scanner reads a root in path order, a page at a time,
-- from the primary key. record is the packed entry of
-- internal/integritysql (type, size, mode, owner, times, inode, device,
-- symlink target, hash, MAC), as sqlitestore keeps it; content is the hash
-- of the entry's kept content (NULL when none).
CREATE TABLE integrity_entries (
	host    text  NOT NULL,
	root    bytea NOT NULL,
	path    bytea NOT NULL,
	record  bytea NOT NULL,
	content bytea,
	PRIMARY KEY (host, root, path)
);
-- Finds whether content is still referred to, by any host.
CREATE INDEX integrity_entries_content ON integrity_entries (content) WHERE content IS NOT NULL;

-- Known-good content of the committed baselines of every host,
-- deduplicated by hash. Only commits write it, one at a time (they take a
-- transaction-level advisory lock), so that dropping content no entry
-- refers to any more never races with a commit that refers to it again.
CREATE TABLE integrity_content (
	hash bytea PRIMARY KEY,
	data bytea NOT NULL
);

-- Staged baseline changes: put with the entry's record, or not put (a
-- delete) with record NULL. A later change of the same key in a set
-- replaces the earlier one.
CREATE TABLE integrity_staged (
	host    text    NOT NULL,
	set_id  text    NOT NULL,
	root    bytea   NOT NULL,
	path    bytea   NOT NULL,
	put     boolean NOT NULL,
	record  bytea,
	content bytea,
	PRIMARY KEY (host, set_id, root, path)
);

-- Staged content, once per hash and set.
CREATE TABLE integrity_staged_blobs (
	host   text  NOT NULL,
	set_id text  NOT NULL,
	hash   bytea NOT NULL,
	data   bytea NOT NULL,
	PRIMARY KEY (host, set_id, hash)
);

CREATE TABLE integrity_observations (
	host  text  NOT NULL,
	root  bytea NOT NULL,
	path  bytea NOT NULL,
	state bytea NOT NULL,
	mac   bytea NOT NULL,
	PRIMARY KEY (host, root, path)
);

-- Alerts, of every host. Ids are never reused, even after a delete.
-- severity_rank orders severity_desc (critical 4, high 3, medium 2, low 1,
-- other 0); the indexes serve the list's filters (status, severity) and
-- orders (created_at either way, severity_rank then created_at), ties
-- broken by id.
CREATE TABLE integrity_alerts (
	id            bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	host          text     NOT NULL,
	root          bytea    NOT NULL,
	path          bytea    NOT NULL,
	file_path     bytea    NOT NULL,
	type          text     NOT NULL,
	change        text     NOT NULL,
	severity      text     NOT NULL,
	status        smallint NOT NULL,
	details       text     NOT NULL,
	state         bytea    NOT NULL,
	check_id      text     NOT NULL,
	created_at    bigint   NOT NULL,
	updated_at    bigint   NOT NULL,
	severity_rank smallint NOT NULL GENERATED ALWAYS AS (CASE severity
		WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) STORED
);
CREATE INDEX integrity_alerts_created ON integrity_alerts (created_at, id);
CREATE INDEX integrity_alerts_status_created ON integrity_alerts (status, created_at, id);
CREATE INDEX integrity_alerts_rank_created ON integrity_alerts (severity_rank, created_at, id);
CREATE INDEX integrity_alerts_status_rank_created ON integrity_alerts (status, severity_rank, created_at, id);

-- The open deployment of each host: at most one.
CREATE TABLE integrity_deployments (
	host          text   PRIMARY KEY,
	id            text   NOT NULL,
	description   text   NOT NULL,
	started_at    bigint NOT NULL,
	actor_user_id bigint NOT NULL,
	mac           bytea  NOT NULL
);

-- The scan lock of each host is a session-level advisory lock (see
-- pgstore/scanlock.go); this row says what its holder runs. It is written
-- only in the transaction that takes the lock (or by the holder), and
-- every attempt to take the lock first updates it, so an attempt that
-- finds the lock held reads its holder's row, never an older one.
CREATE TABLE integrity_scan_holders (
	host     text NOT NULL PRIMARY KEY,
	check_id text NOT NULL -- '' when the holder runs no check
);

-- The checks run under the scan lock, as their Monitor last recorded them
-- (the last 100 of each host are kept). pid is the backend holding the
-- lock: a check still running whose backend no longer holds it was
-- interrupted.
CREATE TABLE integrity_checks (
	id               text    PRIMARY KEY,
	host             text    NOT NULL,
	kind             text    NOT NULL,
	status           text    NOT NULL,
	files_total      bigint  NOT NULL,
	files_scanned    bigint  NOT NULL,
	violations_found bigint  NOT NULL,
	accepted         bigint  NOT NULL,
	started_at       bigint  NOT NULL,
	finished_at      bigint  NOT NULL,
	duration         bigint  NOT NULL, -- nanoseconds
	error            text    NOT NULL,
	lock_host        text    NOT NULL, -- the host whose lock it runs under
	pid              integer NOT NULL
);
CREATE INDEX integrity_checks_lock_host_started ON integrity_checks (lock_host, started_at DESC);
