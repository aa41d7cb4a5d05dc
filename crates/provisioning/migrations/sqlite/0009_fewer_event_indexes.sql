-- Two indexes every logged request paid for, replaced by cheaper ways to the same answers.
--
-- An event's indexes are most of what logging a request costs (see BENCHMARKS.md, "The page's
-- shadows, and what the log's indexes cost a read"). Two of them served rare questions:
--
-- * `events_status` (status, id) took an entry for every event, for the "Failed" filter.
--   `events_failed` holds failures only; "Succeeded" reads the log newest first, where nearly
--   every event matches.
-- * `events_authenticated` took an entry for every request that carried a token, for the setup
--   checklist's "first authenticated request". That time is now kept once, in `settings`, by
--   the write that logs such a request (`insert_events`); here it is taken from the log so far.
INSERT INTO settings (key, value)
    SELECT 'first_authenticated_request', time FROM events
    WHERE token_id IS NOT NULL AND simulated = 0 ORDER BY time LIMIT 1;
DROP INDEX events_authenticated;
DROP INDEX events_status;
CREATE INDEX events_failed ON events (id) WHERE status >= 400;
