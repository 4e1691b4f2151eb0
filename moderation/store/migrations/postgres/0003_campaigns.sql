-- Campaign memory: near-duplicate clusters of comments, and signatures learned from moderator decisions.
-- (Mirrors migrations/sqlite/0003_campaigns.sql; see there for what each column means.)

ALTER TABLE comments ADD COLUMN cluster_id BIGINT;
ALTER TABLE comments ADD COLUMN minhash BYTEA;
CREATE INDEX comments_by_cluster ON comments (site_id, cluster_id, status, id) WHERE cluster_id IS NOT NULL;

ALTER TABLE sites ADD COLUMN campaign_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE campaign_signatures (
    id                  BIGSERIAL PRIMARY KEY,
    site_id             TEXT NOT NULL REFERENCES sites(id),
    kind                TEXT NOT NULL CHECK (kind IN ('brand', 'url', 'domain', 'phone', 'template')),
    value               TEXT NOT NULL,
    minhash             BYTEA,
    rejections          INTEGER NOT NULL DEFAULT 0,
    approvals           INTEGER NOT NULL DEFAULT 0,
    moderators          INTEGER NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    expires_at          TIMESTAMPTZ NOT NULL,
    removed_at          TIMESTAMPTZ,
    removed_by          TEXT,
    UNIQUE (site_id, kind, value)
);
CREATE INDEX campaign_signatures_live ON campaign_signatures (site_id, expires_at) WHERE removed_at IS NULL;

CREATE TABLE campaign_votes (
    id              BIGSERIAL PRIMARY KEY,
    signature_id    BIGINT NOT NULL REFERENCES campaign_signatures(id),
    site_id         TEXT NOT NULL,
    comment_id      BIGINT NOT NULL REFERENCES comments(id),
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('reject', 'approve')),
    label           TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    UNIQUE (signature_id, comment_id, action)
);
CREATE INDEX campaign_votes_by_signature ON campaign_votes (signature_id, id);

-- A comment held by a learned campaign signature is spam for the queue's reason filter.
CREATE OR REPLACE FUNCTION comment_reason_kind(reason JSONB) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
               WHEN reason ->> 'code' LIKE 'policy.%' THEN 'policy'
               WHEN reason ->> 'code' IN ('spam', 'honeypot', 'too_fast', 'campaign') THEN 'spam'
               WHEN reason ->> 'source' LIKE 'model:%' THEN 'toxic'
               ELSE 'other'
           END
$$;
