-- Issue 15 (privacy and security).

-- Operator keys: a distinct kind of key, for what every site shares (reloading the model). They belong
-- to no site, so they live apart from api_keys (whose site_id and role CHECK stay as they are).
CREATE TABLE operator_keys (
    id          BIGSERIAL PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,   -- sha256 of the key; the key itself is never stored
    prefix      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- Session CSRF tokens are no longer stored readable: the token is derived from the session id (which
-- only the cookie holds) and only its SHA-256 is kept. Existing sessions held plain tokens: they end
-- (moderators sign in again).
-- Expand, not rename: a replica of the release before still writes csrf_token; this release writes ''
-- there (the column is NOT NULL) and its hash in csrf_hash. A later contract migration drops csrf_token.
DELETE FROM moderator_sessions;
ALTER TABLE moderator_sessions ADD COLUMN csrf_hash TEXT;

-- Retention removes spam and rejected comments entirely, while the audit log keeps its events (they
-- hold no personal data): comment_events loses its foreign key to comments.
ALTER TABLE comment_events DROP CONSTRAINT comment_events_comment_id_fkey;

-- That an erasure or a purge happened, by whom and how much: never whose data it was.
CREATE TABLE privacy_events (
    id          BIGSERIAL PRIMARY KEY,
    site_id     TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,          -- key:<id>, cli, retention
    action      TEXT NOT NULL CHECK (action IN ('erasure', 'purge')),
    counts      JSONB NOT NULL          -- what was removed or anonymised, by kind
);
CREATE INDEX privacy_events_by_site ON privacy_events (site_id, id);
CREATE INDEX comments_by_update ON comments (site_id, status, updated_at);

-- Keyed hashes of the author's e-mail and IP (moderation/author_hashes.py): the duplicate and flood
-- checks match on them, and they outlive the raw IP's retention. Filled for earlier comments at start-up.
ALTER TABLE comments ADD COLUMN author_email_hash TEXT;
ALTER TABLE comments ADD COLUMN author_ip_hash TEXT;
CREATE INDEX comments_duplicate_hashed ON comments (site_id, article_id, author_email_hash, content_hash);
CREATE INDEX comments_by_email_hash ON comments (site_id, author_email_hash, created_at);
CREATE INDEX comments_by_ip_hash ON comments (site_id, author_ip_hash, created_at);
