-- The setup checklist's "first authenticated request": without this, a log whose events carry
-- no token is read to its end every time the status is shown.
CREATE INDEX events_authenticated ON events (id) WHERE token_id IS NOT NULL AND simulated = 0;
