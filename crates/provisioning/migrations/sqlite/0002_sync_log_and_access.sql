-- The sync log's before/after diff, and who has access and why.

-- JSON array of {"attribute", "before", "after"} for writes; members as {"attribute":"members","added":[..],"removed":[..]}.
ALTER TABLE events ADD COLUMN diff TEXT;
CREATE INDEX events_idp ON events (idp, id);
CREATE INDEX events_target_name ON events (target_name COLLATE NOCASE, id);

-- An admin's emergency suspension, kept apart from the IdP's `active` so the IdP stays the
-- source of truth for everything it manages.
ALTER TABLE users ADD COLUMN admin_suspended TEXT;
ALTER TABLE users ADD COLUMN admin_suspended_reason TEXT;
CREATE INDEX users_active ON users (active, admin_suspended);

-- With the access rule "groups", only members of these groups have access.
CREATE TABLE granting_groups (
    group_id TEXT PRIMARY KEY NOT NULL REFERENCES groups (id) ON DELETE CASCADE
) WITHOUT ROWID;
