-- Same schema as sqlite/0002_moderator_workflow.sql, in PostgreSQL's types: queue fields and the
-- reason-kinds trigger, reader reports, webhook outbox and delivery log, moderator page sessions.

-- Queue fields kept beside each comment. risk = the highest classifier score (the "risk" order);
-- DOUBLE PRECISION, like SQLite's REAL, so a (risk, id) cursor compares exactly.
-- open_reports = readers' reports nobody has acted on yet (the "reported" queue).
ALTER TABLE comments ADD COLUMN risk DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN open_reports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN last_reported_at TIMESTAMPTZ;

-- One row per (comment, kind of reason) so the queue can filter and count by reason with an index.
--   spam   : spam, honeypot, too_fast        policy : every policy.* code
--   toxic  : toxic and any other model head  other  : classifier_unavailable and anything new
CREATE TABLE comment_reason_kinds (
    comment_id  BIGINT NOT NULL REFERENCES comments(id),
    site_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('spam', 'toxic', 'policy', 'other')),
    PRIMARY KEY (comment_id, kind)
);
CREATE INDEX comment_reason_kinds_by_site ON comment_reason_kinds (site_id, kind, comment_id);

-- The two rules, once, for the triggers and the backfill below.
CREATE FUNCTION comment_risk(scores JSONB) RETURNS DOUBLE PRECISION LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(MAX(s.value::text::double precision), 0)
    FROM jsonb_each(CASE WHEN jsonb_typeof(scores) = 'object' THEN scores ELSE '{}'::jsonb END) AS s
    WHERE jsonb_typeof(s.value) = 'number'
$$;

CREATE FUNCTION comment_reason_kind(reason JSONB) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
               WHEN reason ->> 'code' LIKE 'policy.%' THEN 'policy'
               WHEN reason ->> 'code' IN ('spam', 'honeypot', 'too_fast') THEN 'spam'
               WHEN reason ->> 'source' LIKE 'model:%' THEN 'toxic'
               ELSE 'other'
           END
$$;

-- Filled by the database on every insert, whichever code path inserted the comment.
-- risk is set before the row is written; the kinds reference the row, so they follow it.
-- SET search_path FROM CURRENT: the functions find this schema's tables whoever inserts.
CREATE FUNCTION comments_queue_risk() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    NEW.risk := comment_risk(NEW.scores);
    RETURN NEW;
END $$;
CREATE TRIGGER comments_queue_risk BEFORE INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION comments_queue_risk();

CREATE FUNCTION comments_queue_reason_kinds() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO comment_reason_kinds (comment_id, site_id, kind)
    SELECT DISTINCT NEW.id, NEW.site_id, comment_reason_kind(r.value)
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(NEW.reasons) = 'array' THEN NEW.reasons ELSE '[]'::jsonb END) AS r
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER comments_queue_reason_kinds AFTER INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION comments_queue_reason_kinds();

-- Comments stored before this migration get the same fields.
UPDATE comments SET risk = comment_risk(scores);
INSERT INTO comment_reason_kinds (comment_id, site_id, kind)
SELECT DISTINCT c.id, c.site_id, comment_reason_kind(r.value)
FROM comments c, jsonb_array_elements(CASE WHEN jsonb_typeof(c.reasons) = 'array' THEN c.reasons ELSE '[]'::jsonb END) AS r
ON CONFLICT DO NOTHING;

CREATE INDEX comments_queue_risk ON comments (site_id, status, risk DESC, id);
CREATE INDEX comments_queue_article ON comments (site_id, article_id, status, id);
CREATE INDEX comments_reported ON comments (site_id, status, id) WHERE open_reports > 0;

-- Readers' reports forwarded by the site. reporter_hash: sha256 of the site's opaque reader id
-- (optional), so one reader cannot report the same comment twice; no names or e-mails here.
CREATE TABLE comment_reports (
    id              BIGSERIAL PRIMARY KEY,
    comment_id      BIGINT NOT NULL REFERENCES comments(id),
    site_id         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    note            TEXT,
    reporter_hash   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    resolved_at     TIMESTAMPTZ,
    resolution      TEXT
);
CREATE INDEX comment_reports_by_comment ON comment_reports (comment_id, id);
CREATE UNIQUE INDEX comment_reports_once_per_reader ON comment_reports (comment_id, reporter_hash)
    WHERE reporter_hash IS NOT NULL;

-- Durable outbox, written in the same transaction as the status change it announces.
-- payload is TEXT, not JSONB: it is the exact body that is signed and sent, byte for byte.
-- Several replicas deliver: a replica claims the oldest pending event of a site with
-- SELECT ... FOR UPDATE SKIP LOCKED and leases it by moving next_attempt_at forward.
CREATE TABLE webhook_outbox (
    id              BIGSERIAL PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    comment_id      BIGINT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    failed_at       TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (site_id, id) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Every delivery attempt, for the per-site delivery log.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    outbox_id       BIGINT NOT NULL REFERENCES webhook_outbox(id),
    site_id         TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    url             TEXT NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    duration_ms     DOUBLE PRECISION NOT NULL
);
CREATE INDEX webhook_deliveries_by_site ON webhook_deliveries (site_id, id);

-- Moderator page sessions. Only a hash of the random session id is stored.
CREATE TABLE moderator_sessions (
    id_hash     TEXT PRIMARY KEY,
    api_key_id  BIGINT NOT NULL REFERENCES api_keys(id),
    csrf_token  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX moderator_sessions_by_expiry ON moderator_sessions (expires_at);
