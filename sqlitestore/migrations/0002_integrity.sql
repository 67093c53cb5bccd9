-- 0002: file integrity monitoring (integrity.Store): baseline entries and
-- their seals, known-good content, staged baseline changes, observations,
-- alerts and the open deployment.
--
-- Roots, paths and file paths are BLOBs: file names as the kernel gives
-- them, byte for byte (they need not be valid UTF-8), ordered by SQLite's
-- binary comparison. Hashes, MACs and states are 32-byte BLOBs (all zeros
-- for "none"). Times are INTEGER unix nanoseconds (UTC), the zero
-- time.Time being -9223372036854775808.

CREATE TABLE integrity_seals (
	root       BLOB    PRIMARY KEY,
	sum        BLOB    NOT NULL,
	entries    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The baseline. The scanner reads a root in path order, a page at a time,
-- from the primary key. Each entry is one packed record (see
-- integrity_record.go: type, size, mode, owner, times, inode, device,
-- symlink target, hash, MAC): reading a row costs SQLite about 0.25 µs per
-- column, so 2 columns rather than 14 make reading a baseline 3.5 times
-- faster. content is the hash of the entry's kept content (NULL when none).
CREATE TABLE integrity_entries (
	root    BLOB NOT NULL,
	path    BLOB NOT NULL,
	record  BLOB NOT NULL,
	content BLOB,
	PRIMARY KEY (root, path)
) STRICT, WITHOUT ROWID;

-- Known-good content of the committed baseline, deduplicated by hash: the
-- hash index (integrity_content) points into the data, which is appended
-- to integrity_content_data as it is staged and never copied.
--
-- Nothing keyed by a hash is written while a set is staged, and there is
-- deliberately no index on integrity_entries (content): rows keyed by a
-- hash land on random pages, and writing batches of them in hundreds of
-- transactions rewrote most of such an index every time (1.3 million WAL
-- frames to record a baseline of 200,000 files). A commit adds the set's
-- hashes to integrity_content sorted, drops the data of hashes it already
-- had, and drops content no entry refers to any more with one sweep, only
-- when it removed or replaced an entry that had some.
CREATE TABLE integrity_content (
	hash    BLOB    PRIMARY KEY,
	data_id INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE integrity_content_data (
	id   INTEGER PRIMARY KEY,
	data BLOB    NOT NULL
) STRICT;

-- Staged baseline changes: put = 1 with the entry's record, or put = 0 (a
-- delete) with record NULL. A later change of the same key in a set
-- replaces the earlier one.
CREATE TABLE integrity_staged (
	set_id  TEXT    NOT NULL,
	root    BLOB    NOT NULL,
	path    BLOB    NOT NULL,
	put     INTEGER NOT NULL,
	record  BLOB,
	content BLOB,
	PRIMARY KEY (set_id, root, path)
) STRICT, WITHOUT ROWID;

-- Staged content, in the order it comes (the same hash may come more than
-- once): its data is already in integrity_content_data.
CREATE TABLE integrity_staged_blobs (
	set_id  TEXT    NOT NULL,
	hash    BLOB    NOT NULL,
	data_id INTEGER NOT NULL
) STRICT;
CREATE INDEX integrity_staged_blobs_set ON integrity_staged_blobs (set_id);

CREATE TABLE integrity_observations (
	root  BLOB NOT NULL,
	path  BLOB NOT NULL,
	state BLOB NOT NULL,
	mac   BLOB NOT NULL,
	PRIMARY KEY (root, path)
) STRICT, WITHOUT ROWID;

-- Alerts. Ids are never reused, even after a delete. severity_rank orders
-- severity_desc (critical 4, high 3, medium 2, low 1, other 0); the indexes
-- serve the list's filters (status, severity) and orders (created_at either
-- way, severity_rank then created_at), ties broken by id (the rowid, which
-- ends every index).
CREATE TABLE integrity_alerts (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	root          BLOB    NOT NULL,
	path          BLOB    NOT NULL,
	file_path     BLOB    NOT NULL,
	type          TEXT    NOT NULL,
	change        TEXT    NOT NULL,
	severity      TEXT    NOT NULL,
	status        INTEGER NOT NULL,
	details       TEXT    NOT NULL,
	state         BLOB    NOT NULL,
	check_id      TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	severity_rank INTEGER NOT NULL GENERATED ALWAYS AS (CASE severity
		WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) VIRTUAL
) STRICT;
CREATE INDEX integrity_alerts_created ON integrity_alerts (created_at);
CREATE INDEX integrity_alerts_status_created ON integrity_alerts (status, created_at);
CREATE INDEX integrity_alerts_rank_created ON integrity_alerts (severity_rank, created_at);
CREATE INDEX integrity_alerts_status_rank_created ON integrity_alerts (status, severity_rank, created_at);

-- The open deployment: at most one row.
CREATE TABLE integrity_deployment (
	one           INTEGER PRIMARY KEY CHECK (one = 1),
	id            TEXT    NOT NULL,
	description   TEXT    NOT NULL,
	started_at    INTEGER NOT NULL,
	actor_user_id INTEGER NOT NULL,
	mac           BLOB    NOT NULL
) STRICT;
