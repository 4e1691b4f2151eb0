-- Sites, API keys, comments with their full evidence, an append-only event log, idempotency records.
CREATE TABLE sites (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    webhook_url     TEXT,
    webhook_secret  TEXT
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash    TEXT NOT NULL UNIQUE,   -- sha256 of the key; the key itself is never stored
    prefix      TEXT NOT NULL,          -- first characters, to recognise a key in listings
    role        TEXT NOT NULL CHECK (role IN ('site', 'moderator', 'admin')),
    site_id     TEXT NOT NULL REFERENCES sites(id),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE comments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    article_id      TEXT NOT NULL,
    parent_id       INTEGER REFERENCES comments(id),
    author_name     TEXT NOT NULL,
    author_email    TEXT NOT NULL,      -- private: moderators only, never to the site, logs or webhooks
    author_url      TEXT,
    author_ip       TEXT,
    user_agent      TEXT,
    referrer        TEXT,
    content         TEXT NOT NULL,
    content_hash    TEXT NOT NULL,      -- sha256 of the content, for the duplicate check
    lang            TEXT,
    signals         TEXT NOT NULL,      -- JSON: honeypot, form timing, link count...
    status          TEXT NOT NULL CHECK (status IN ('published', 'held', 'rejected', 'removed')),
    decision        TEXT NOT NULL CHECK (decision IN ('publish', 'hold')),   -- the automatic decision
    reasons         TEXT NOT NULL,      -- JSON list of evidence
    scores          TEXT NOT NULL,      -- JSON object head -> probability
    model_version   TEXT,
    revision        INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX comments_duplicate ON comments (site_id, article_id, author_email, content_hash);
CREATE INDEX comments_by_email ON comments (site_id, author_email, created_at);
CREATE INDEX comments_by_ip ON comments (site_id, author_ip, created_at);
CREATE INDEX comments_by_status ON comments (site_id, status, id);

-- Every automatic and human decision, in order. Append-only: the triggers refuse edits.
CREATE TABLE comment_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id      INTEGER NOT NULL REFERENCES comments(id),
    site_id         TEXT NOT NULL,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,      -- 'system' or 'key:<id>'
    action          TEXT NOT NULL,      -- submitted, approve, reject, remove, report...
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    label           TEXT,
    note            TEXT,
    reasons         TEXT,
    model_version   TEXT
);
CREATE INDEX comment_events_by_comment ON comment_events (comment_id, id);
CREATE INDEX comment_events_by_site ON comment_events (site_id, id);
CREATE TRIGGER comment_events_no_update BEFORE UPDATE ON comment_events
BEGIN SELECT RAISE(ABORT, 'comment_events is append-only'); END;
CREATE TRIGGER comment_events_no_delete BEFORE DELETE ON comment_events
BEGIN SELECT RAISE(ABORT, 'comment_events is append-only'); END;

CREATE TABLE idempotency_keys (
    site_id         TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    comment_id      INTEGER NOT NULL REFERENCES comments(id),
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (site_id, key)
);

-- Labels for retraining: moderator decisions and compatibility-API feedback (submit-spam/ham, suggestscore).
-- No e-mail, IP or name: only the text and what a person said about it.
CREATE TABLE training_labels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id         TEXT NOT NULL,
    comment_id      INTEGER REFERENCES comments(id),
    text            TEXT NOT NULL,
    label           TEXT NOT NULL,      -- ham, spam, toxic, other
    source          TEXT NOT NULL,      -- moderator, akismet.submit-spam, perspective.suggestscore...
    actor           TEXT,
    model_version   TEXT,               -- the model that judged the text first
    scores          TEXT,               -- JSON: that model's scores
    created_at      TEXT NOT NULL
);
CREATE INDEX training_labels_by_time ON training_labels (created_at, id);
