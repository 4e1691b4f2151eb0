-- Issue 15 (privacy and security).

-- Operator keys: a distinct kind of key, for what every site shares (reloading the model). They belong
-- to no site, so they live apart from api_keys (whose site_id and role CHECK stay as they are).
CREATE TABLE operator_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash    TEXT NOT NULL UNIQUE,   -- sha256 of the key; the key itself is never stored
    prefix      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- Session CSRF tokens are no longer stored readable: the token is derived from the session id (which
-- only the cookie holds) and only its SHA-256 is kept. Existing sessions held plain tokens: they end
-- (moderators sign in again).
DELETE FROM moderator_sessions;
ALTER TABLE moderator_sessions RENAME COLUMN csrf_token TO csrf_hash;
