-- Counts every deletion of a search text, in the database itself.
--
-- The sync log's batch writer remembers the ids of the texts it wrote (decision 0034) and
-- forgets them when this count moves: a deleted text's id may be given to another text. A
-- trigger counts deletions by any process on the file, an older build still running included,
-- where a count kept by the code that prunes would miss theirs.
INSERT OR IGNORE INTO settings (key, value) VALUES ('event_texts_dropped', '0');
CREATE TRIGGER event_texts_dropped AFTER DELETE ON event_texts BEGIN
    UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'event_texts_dropped';
END;
