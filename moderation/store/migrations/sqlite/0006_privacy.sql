-- contract: comment_events' foreign key to comments (SQLite drops a constraint only by rebuilding the
-- table, below); an SQLite file is served by one release at a time (serve --workers migrates before its
-- workers start), so no replica of the release before shares it. The rest of this file only expands.
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
-- Expand, not rename: a replica of the release before still writes csrf_token; this release writes ''
-- there (the column is NOT NULL) and its hash in csrf_hash. A later contract migration drops csrf_token.
DELETE FROM moderator_sessions;
ALTER TABLE moderator_sessions ADD COLUMN csrf_hash TEXT;

-- Retention removes spam and rejected comments entirely, while the audit log keeps its events (they
-- hold no personal data): comment_events loses its foreign key to comments. SQLite cannot drop a
-- constraint, so the table is rebuilt as it was (same ids, indexes and append-only triggers).
CREATE TABLE comment_events_kept (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id      INTEGER NOT NULL,   -- the comment may since have been purged by retention
    site_id         TEXT NOT NULL,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    label           TEXT,
    note            TEXT,
    reasons         TEXT,
    model_version   TEXT
);
INSERT INTO comment_events_kept SELECT id, comment_id, site_id, at, actor, action, from_status, to_status, label,
    note, reasons, model_version FROM comment_events;
DROP TABLE comment_events;
ALTER TABLE comment_events_kept RENAME TO comment_events;
CREATE INDEX comment_events_by_comment ON comment_events (comment_id, id);
CREATE INDEX comment_events_by_site ON comment_events (site_id, id);
CREATE TRIGGER comment_events_no_update BEFORE UPDATE ON comment_events
BEGIN SELECT RAISE(ABORT, 'comment_events is append-only'); END;
CREATE TRIGGER comment_events_no_delete BEFORE DELETE ON comment_events
BEGIN SELECT RAISE(ABORT, 'comment_events is append-only'); END;

-- That an erasure or a purge happened, by whom and how much: never whose data it was.
CREATE TABLE privacy_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id     TEXT NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,          -- key:<id>, cli, retention
    action      TEXT NOT NULL CHECK (action IN ('erasure', 'purge')),
    counts      TEXT NOT NULL           -- JSON: what was removed or anonymised, by kind
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
