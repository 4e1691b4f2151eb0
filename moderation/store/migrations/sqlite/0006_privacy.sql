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
