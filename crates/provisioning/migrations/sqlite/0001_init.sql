-- The SCIM store. Resources keep their SCIM JSON in `data` (everything but id, meta and the
-- computed or row-stored attributes); the columns beside it exist for the lookups IdPs make.
-- Timestamps are RFC 3339 UTC with milliseconds, so text order is time order.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    user_name     TEXT NOT NULL,
    -- userName folded to lower case: uniqueness and `userName eq` ignore case (RFC 7643 §4.1.1).
    user_name_key TEXT NOT NULL UNIQUE,
    external_id   TEXT,
    display_name  TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    data          TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL
);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_created ON users (created, id);
CREATE INDEX users_last_modified ON users (last_modified, id);

CREATE TABLE groups (
    id               TEXT PRIMARY KEY NOT NULL,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id      TEXT,
    data             TEXT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1,
    created          TEXT NOT NULL,
    last_modified    TEXT NOT NULL
);
CREATE INDEX groups_display_name_key ON groups (display_name_key);
CREATE INDEX groups_external_id ON groups (external_id);
CREATE INDEX groups_created ON groups (created, id);

-- Membership as rows: adding one member never rewrites the group.
CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    display     TEXT,
    added       TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (member_id, group_id);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    label      TEXT NOT NULL,
    -- The first characters of the token, safe to show: "twscim_9f3a".
    prefix     TEXT NOT NULL,
    -- SHA-256 of the whole token, hex. The token itself is never stored.
    hash       TEXT NOT NULL UNIQUE,
    created    TEXT NOT NULL,
    last_used  TEXT,
    expires    TEXT,
    revoked    TEXT
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- The sync log: one row per SCIM request.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    time          TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    operation     TEXT NOT NULL,
    resource_type TEXT,
    target_id     TEXT,
    target_name   TEXT,
    status        INTEGER NOT NULL,
    latency_ms    REAL NOT NULL,
    user_agent    TEXT,
    idp           TEXT NOT NULL,
    token_id      TEXT,
    quirks        TEXT NOT NULL DEFAULT '[]',
    request_body  TEXT,
    response_body TEXT,
    detail        TEXT,
    simulated     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_target ON events (target_id, id);
CREATE INDEX events_operation ON events (operation, id);
CREATE INDEX events_status ON events (status, id);
