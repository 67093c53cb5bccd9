-- 0005: the integrity package stores the known-good copies kept for diffs
-- encrypted (integrity's "Content at rest"); the copies earlier versions
-- stored are plaintext, and a stolen database or backup disclosed them.
-- Drop them all (every copy in a database at version 4 is plaintext):
-- diffs of those entries say the content is not stored until a new state
-- of the file is accepted. secure_delete overwrites the freed pages with
-- zeros rather than leaving the content in the free list; Open then
-- truncates the WAL, which held the old pages too.
PRAGMA secure_delete = ON;
DELETE FROM integrity_staged_blobs;
DELETE FROM integrity_content;
DELETE FROM integrity_content_data;
PRAGMA secure_delete = OFF;
