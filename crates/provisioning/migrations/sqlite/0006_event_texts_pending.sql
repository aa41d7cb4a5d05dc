-- The sync log's texts are indexed for free-text search after they are written, in bulk, by
-- the log's batch writer (see `index_pending_texts` in events.rs), not by a trigger inside
-- each write: FTS5 writes its pending entries out as a new segment at every SAVEPOINT, so in
-- a group commit (a savepoint per write) each write made a segment of one text and the merges
-- that follow. A text not indexed yet is marked `pending`; free-text search also looks at
-- those, through the partial index below, so nothing written is missed meanwhile.
ALTER TABLE event_texts ADD COLUMN pending INTEGER;
CREATE INDEX event_texts_pending ON event_texts (id) WHERE pending IS NOT NULL;
DROP TRIGGER event_texts_insert;
DROP TRIGGER event_texts_delete;
-- Only an indexed text has entries to remove (deleting entries an external-content FTS5 table
-- never had corrupts it).
CREATE TRIGGER event_texts_delete AFTER DELETE ON event_texts WHEN old.pending IS NULL BEGIN
    INSERT INTO event_texts_search (event_texts_search, rowid, search) VALUES ('delete', old.id, old.search);
END;
