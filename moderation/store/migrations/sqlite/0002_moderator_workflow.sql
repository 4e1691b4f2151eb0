-- The moderator workflow: queue indexes, reader reports, webhook outbox and delivery log, page sessions.

-- Queue fields kept beside each comment. risk = the highest classifier score (the "risk" order);
-- open_reports = readers' reports nobody has acted on yet (the "reported" queue).
ALTER TABLE comments ADD COLUMN risk REAL NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN open_reports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN last_reported_at TEXT;

-- One row per (comment, kind of reason) so the queue can filter and count by reason with an index.
--   spam   : spam, honeypot, too_fast        policy : every policy.* code
--   toxic  : toxic and any other model head  other  : classifier_unavailable and anything new
CREATE TABLE comment_reason_kinds (
    comment_id  INTEGER NOT NULL REFERENCES comments(id),
    site_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('spam', 'toxic', 'policy', 'other')),
    PRIMARY KEY (comment_id, kind)
);
CREATE INDEX comment_reason_kinds_by_site ON comment_reason_kinds (site_id, kind, comment_id);

-- Filled by the database on every insert, whichever code path inserted the comment.
-- (PostgreSQL mirrors this with a plpgsql trigger over jsonb_array_elements / jsonb_each_text.)
CREATE TRIGGER comments_queue_fields AFTER INSERT ON comments
BEGIN
    UPDATE comments SET risk = COALESCE((SELECT MAX(CAST(value AS REAL)) FROM json_each(NEW.scores)), 0)
    WHERE id = NEW.id;
    INSERT OR IGNORE INTO comment_reason_kinds (comment_id, site_id, kind)
    SELECT NEW.id, NEW.site_id,
           CASE
               WHEN json_extract(value, '$.code') LIKE 'policy.%' THEN 'policy'
               WHEN json_extract(value, '$.code') IN ('spam', 'honeypot', 'too_fast') THEN 'spam'
               WHEN json_extract(value, '$.source') LIKE 'model:%' THEN 'toxic'
               ELSE 'other'
           END
    FROM json_each(NEW.reasons);
END;

-- Comments stored before this migration get the same fields.
UPDATE comments SET risk = COALESCE((SELECT MAX(CAST(value AS REAL)) FROM json_each(comments.scores)), 0);
INSERT OR IGNORE INTO comment_reason_kinds (comment_id, site_id, kind)
SELECT c.id, c.site_id,
       CASE
           WHEN json_extract(r.value, '$.code') LIKE 'policy.%' THEN 'policy'
           WHEN json_extract(r.value, '$.code') IN ('spam', 'honeypot', 'too_fast') THEN 'spam'
           WHEN json_extract(r.value, '$.source') LIKE 'model:%' THEN 'toxic'
           ELSE 'other'
       END
FROM comments c, json_each(c.reasons) r;

CREATE INDEX comments_queue_risk ON comments (site_id, status, risk DESC, id);
CREATE INDEX comments_queue_article ON comments (site_id, article_id, status, id);
CREATE INDEX comments_reported ON comments (site_id, status, id) WHERE open_reports > 0;

-- Readers' reports forwarded by the site. reporter_hash: sha256 of the site's opaque reader id
-- (optional), so one reader cannot report the same comment twice; no names or e-mails here.
CREATE TABLE comment_reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id      INTEGER NOT NULL REFERENCES comments(id),
    site_id         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    note            TEXT,
    reporter_hash   TEXT,
    created_at      TEXT NOT NULL,
    resolved_at     TEXT,
    resolution      TEXT                -- the moderator action that closed it: approve, reject, remove
);
CREATE INDEX comment_reports_by_comment ON comment_reports (comment_id, id);
CREATE UNIQUE INDEX comment_reports_once_per_reader ON comment_reports (comment_id, reporter_hash)
    WHERE reporter_hash IS NOT NULL;

-- Durable outbox: written in the same transaction as the status change it announces, delivered
-- in order per site by the background task (moderation.webhooks), retried with backoff.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    comment_id      INTEGER NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,      -- the exact JSON body that is signed and sent (never the e-mail)
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    failed_at       TEXT,               -- gave up after the retry window; can be redelivered by an admin
    last_error      TEXT
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (site_id, id) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Every delivery attempt, for the per-site delivery log.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id       INTEGER NOT NULL REFERENCES webhook_outbox(id),
    site_id         TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    at              TEXT NOT NULL,
    url             TEXT NOT NULL,
    status_code     INTEGER,            -- NULL when no HTTP answer came back
    error           TEXT,
    duration_ms     REAL NOT NULL
);
CREATE INDEX webhook_deliveries_by_site ON webhook_deliveries (site_id, id);

-- Moderator page sessions. Only a hash of the random session id is stored.
CREATE TABLE moderator_sessions (
    id_hash     TEXT PRIMARY KEY,
    api_key_id  INTEGER NOT NULL REFERENCES api_keys(id),
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX moderator_sessions_by_expiry ON moderator_sessions (expires_at);
