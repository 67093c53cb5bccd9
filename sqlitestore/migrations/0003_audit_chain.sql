-- 0003: the audit events form a hash chain (security.AuditLog): each event
-- stores the hash of the one before it (prev_hash; 32 zero bytes for the
-- first) and hash = BLAKE3(prev_hash || canonical encoding of the event,
-- ID included). Both are 32-byte BLOBs. They are NULL only on events
-- recorded before this migration, until the store seals them: the first
-- append, EventsHead or VerifyEvents that finds no hashed event at all
-- chains every existing event in ID order.
ALTER TABLE events ADD COLUMN prev_hash BLOB CHECK (prev_hash IS NULL OR length(prev_hash) = 32);
ALTER TABLE events ADD COLUMN hash BLOB CHECK (hash IS NULL OR length(hash) = 32);
