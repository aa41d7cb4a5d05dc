-- The index from a search text to its events, kept in the order events are written.
--
-- `events_search_id` (search_id, id) put each logged event's entry where its text sorts, and
-- texts come in random order: every event dirtied a page of its own, which its batch's commit
-- wrote out. That was a tenth of what a logged read costs (BENCHMARKS.md, "What the sync log's
-- indexes cost a logged read"). `events_search_bucket` sorts entries by bucket of 4,096 event
-- ids first, then by text: the events being written all land in the last bucket's few pages.
--
-- A text's events are found with one seek per bucket (a million events are 245 buckets); a
-- filter that matches many texts reads the log newest first instead. `TextFilters` in
-- events.rs chooses, and writes `(id >> 12)` exactly as here so that SQLite uses the index.
DROP INDEX events_search_id;
CREATE INDEX events_search_bucket ON events ((id >> 12), search_id);
