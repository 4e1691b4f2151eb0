-- Akismet-shaped aliases of site keys: 12 lower-case hex characters, the only key shape the Akismet
-- WordPress plugin's settings page accepts. Only the Akismet endpoints (/1.1/, /1.2/) take an alias; it
-- acts as its site key there, and stops working when that key is revoked. Stored as SHA-256, like keys.
CREATE TABLE akismet_aliases (
    alias_hash  TEXT PRIMARY KEY,
    api_key_id  INTEGER NOT NULL REFERENCES api_keys(id),
    created_at  TEXT NOT NULL
);
CREATE INDEX akismet_aliases_by_key ON akismet_aliases (api_key_id);
