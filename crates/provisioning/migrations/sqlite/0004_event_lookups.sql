-- Two lookups over the sync log that stay fast at a million events.

-- How many events hold each trigram of the free-text index: free-text search looks up the
-- rarest trigrams of the text here first (see `rare_trigrams` in events.rs). A read-only view
-- of the index; it stores nothing.
CREATE VIRTUAL TABLE events_search_vocab USING fts5vocab (events_search, row);

-- The setup checklist's "first authenticated request": without this, a log whose events carry
-- no token is read to its end every time the status is shown.
CREATE INDEX events_authenticated ON events (id) WHERE token_id IS NOT NULL AND simulated = 0;
