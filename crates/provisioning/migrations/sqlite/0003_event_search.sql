-- Free-text search over the sync log (userName, email, id, externalId) that stays fast at a
-- million events: each event keeps a short lower-cased `search` text of the identifiers it
-- names, indexed by an FTS5 trigram index, which answers `LIKE '%text%'` without a scan.
ALTER TABLE events ADD COLUMN search TEXT;

CREATE VIRTUAL TABLE events_search USING fts5 (search, content = 'events', content_rowid = 'id', tokenize = 'trigram');

CREATE TRIGGER events_search_insert AFTER INSERT ON events WHEN new.search IS NOT NULL BEGIN
    INSERT INTO events_search (rowid, search) VALUES (new.id, new.search);
END;
CREATE TRIGGER events_search_delete AFTER DELETE ON events WHEN old.search IS NOT NULL BEGIN
    INSERT INTO events_search (events_search, rowid, search) VALUES ('delete', old.id, old.search);
END;
