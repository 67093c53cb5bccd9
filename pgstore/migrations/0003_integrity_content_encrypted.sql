-- 0003: the integrity package stores the known-good copies kept for diffs
-- encrypted (integrity's "Content at rest"); the copies earlier versions
-- stored are plaintext. Drop them all (every copy in a schema at version 2
-- is plaintext): diffs of those entries say the content is not stored
-- until a new state of the file is accepted. PostgreSQL keeps the deleted
-- rows in the table's files until they are vacuumed, and in its WAL and
-- any backups: run VACUUM FULL integrity_content after upgrading to
-- rewrite the table without them.
DELETE FROM integrity_staged_blobs;
DELETE FROM integrity_content;
