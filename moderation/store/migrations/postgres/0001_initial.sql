-- Same schema as sqlite/0001_initial.sql, in PostgreSQL's types.
CREATE TABLE sites (
    id              TEXT PRIMARY KEY,
    created_at      TIMESTAMPTZ NOT NULL,
    webhook_url     TEXT,
    webhook_secret  TEXT
);

CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('site', 'moderator', 'admin')),
    site_id     TEXT NOT NULL REFERENCES sites(id),
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

CREATE TABLE comments (
    id              BIGSERIAL PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    article_id      TEXT NOT NULL,
    parent_id       BIGINT REFERENCES comments(id),
    author_name     TEXT NOT NULL,
    author_email    TEXT NOT NULL,
    author_url      TEXT,
    author_ip       TEXT,
    user_agent      TEXT,
    referrer        TEXT,
    content         TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    lang            TEXT,
    signals         JSONB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('published', 'held', 'rejected', 'removed')),
    decision        TEXT NOT NULL CHECK (decision IN ('publish', 'hold')),
    reasons         JSONB NOT NULL,
    scores          JSONB NOT NULL,
    model_version   TEXT,
    revision        INTEGER NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX comments_duplicate ON comments (site_id, article_id, author_email, content_hash);
CREATE INDEX comments_by_email ON comments (site_id, author_email, created_at);
CREATE INDEX comments_by_ip ON comments (site_id, author_ip, created_at);
CREATE INDEX comments_by_status ON comments (site_id, status, id);

CREATE TABLE comment_events (
    id              BIGSERIAL PRIMARY KEY,
    comment_id      BIGINT NOT NULL REFERENCES comments(id),
    site_id         TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    label           TEXT,
    note            TEXT,
    reasons         JSONB,
    model_version   TEXT
);
CREATE INDEX comment_events_by_comment ON comment_events (comment_id, id);
CREATE INDEX comment_events_by_site ON comment_events (site_id, id);
CREATE FUNCTION comment_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'comment_events is append-only';
END $$;
CREATE TRIGGER comment_events_no_change BEFORE UPDATE OR DELETE ON comment_events
    FOR EACH ROW EXECUTE FUNCTION comment_events_append_only();

CREATE TABLE idempotency_keys (
    site_id         TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    comment_id      BIGINT NOT NULL REFERENCES comments(id),
    response_status INTEGER NOT NULL,
    response_body   JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site_id, key)
);

CREATE TABLE training_labels (
    id              BIGSERIAL PRIMARY KEY,
    site_id         TEXT NOT NULL,
    comment_id      BIGINT REFERENCES comments(id),
    text            TEXT NOT NULL,
    label           TEXT NOT NULL,
    source          TEXT NOT NULL,
    actor           TEXT,
    model_version   TEXT,
    scores          JSONB,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX training_labels_by_time ON training_labels (created_at, id);
