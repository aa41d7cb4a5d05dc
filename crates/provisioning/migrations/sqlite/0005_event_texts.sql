-- The sync log's write cost: each distinct search text is indexed once, not once per event,
-- and no index is kept in the random order of a text, a target id or a name.
--
-- Most events repeat a text already logged: every read of a user names the same userName, id
-- and externalId as its create did. Indexing every event's trigrams cost more than the rest of
-- the event's row and indexes together (17 µs of a 23 µs event). `event_texts` keeps each text
-- once, with the trigram index over it; an event keeps its text's id, and `events_search_id`
-- leads from a text to its events. A repeated text costs one unique-index probe.
--
-- An index in the order of target ids, names or texts puts each logged request on a page of
-- its own, which the commit then writes out: under read load each such index cost about a
-- tenth of the throughput. Nothing reads `events_target_name`; a target's history goes through
-- its search text, which names the target (`SyncEvent::retarget`), and then checks
-- `target_id`. The search id's index holds two integers per event.
DROP TRIGGER events_search_insert;
DROP TRIGGER events_search_delete;
DROP TABLE events_search;
DROP INDEX events_target;
DROP INDEX events_target_name;

-- Events that were pointed at an affected user after they were built kept the text of the
-- request that caused them: they name their target from now on.
UPDATE events SET search = lower(trim(coalesce(search, '') || ' ' || coalesce(target_name, '') || ' ' || target_id))
WHERE target_id IS NOT NULL AND (search IS NULL OR instr(search, lower(target_id)) = 0);

CREATE TABLE event_texts (
    id     INTEGER PRIMARY KEY,
    search TEXT NOT NULL UNIQUE
);
-- Searches ask the index only which texts hold a trigram (rare trigrams, or the index's own
-- LIKE) and check every candidate with LIKE: positions are never read, so none are stored.
CREATE VIRTUAL TABLE event_texts_search USING fts5 (search, content = 'event_texts', content_rowid = 'id', tokenize = 'trigram', detail = 'none');
CREATE TRIGGER event_texts_insert AFTER INSERT ON event_texts BEGIN
    INSERT INTO event_texts_search (rowid, search) VALUES (new.id, new.search);
END;
CREATE TRIGGER event_texts_delete AFTER DELETE ON event_texts BEGIN
    INSERT INTO event_texts_search (event_texts_search, rowid, search) VALUES ('delete', old.id, old.search);
END;

INSERT INTO event_texts (search) SELECT DISTINCT search FROM events WHERE search IS NOT NULL;
-- The text moves to `event_texts`; the event keeps its id.
ALTER TABLE events ADD COLUMN search_id INTEGER;
UPDATE events SET search_id = (SELECT id FROM event_texts WHERE event_texts.search = events.search), search = NULL
WHERE search IS NOT NULL;
CREATE INDEX events_search_id ON events (search_id, id);
