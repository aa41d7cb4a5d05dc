-- As SQLite's 0009: the "Failed" filter's index holds failures only, and the checklist's
-- first authenticated request is kept in `settings` by the write that logs it, instead of an
-- index entry for every request that carried a token.
INSERT INTO settings (key, value)
    SELECT 'first_authenticated_request', time FROM events
    WHERE token_id IS NOT NULL AND simulated = 0 ORDER BY time LIMIT 1;
DROP INDEX events_authenticated;
DROP INDEX events_status;
CREATE INDEX events_failed ON events (id) WHERE status >= 400;
