-- The response bodies of reads, kept once when they repeat.
--
-- An IdP reads the same user again and again between changes, and each read's event kept the
-- whole response (about 700 bytes for a user): under read load, writing those copies was the
-- largest part of what the log cost. The sync log's writer now keeps a body that repeats
-- once, here, and later events name it in `response_body_id` instead of holding a copy; the
-- first event to send it keeps its own copy in `response_body`, so a body sent only once (a
-- large directory read through once) costs nothing more.
--
-- A body is named only by events whose id is below its `until`, so once the oldest event
-- left is at or past `until`, nothing names it: pruning deletes those (see `delete_events`).
-- Event ids are never reused (AUTOINCREMENT), which that rule relies on; nor are a body's, so
-- an id is never taken to mean another body.
CREATE TABLE event_bodies (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    body  TEXT NOT NULL,
    until INTEGER NOT NULL
);
CREATE INDEX event_bodies_until ON event_bodies (until);
ALTER TABLE events ADD COLUMN response_body_id INTEGER;
