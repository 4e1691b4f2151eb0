-- Campaign memory: near-duplicate clusters of comments, and signatures learned from moderator decisions.

-- cluster_id: the id of the first comment of its near-duplicate cluster (NULL: the comment founded
-- its own cluster, or was too short to cluster). minhash: its MinHash (64 uint32 values), so the
-- in-memory index can be rebuilt at start-up without re-reading every text.
ALTER TABLE comments ADD COLUMN cluster_id INTEGER;
ALTER TABLE comments ADD COLUMN minhash BLOB;
CREATE INDEX comments_by_cluster ON comments (site_id, cluster_id, status, id) WHERE cluster_id IS NOT NULL;

-- Bumped whenever a signature of the site changes, so every worker's cache notices cheaply.
ALTER TABLE sites ADD COLUMN campaign_version INTEGER NOT NULL DEFAULT 0;

-- One row per learned signature. The counts are kept equal to the votes below (recomputed on each vote).
CREATE TABLE campaign_signatures (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id             TEXT NOT NULL REFERENCES sites(id),
    kind                TEXT NOT NULL CHECK (kind IN ('brand', 'url', 'domain', 'phone', 'template')),
    value               TEXT NOT NULL,      -- the token, URL, domain, digits; 'cluster:<id>' for a template
    minhash             BLOB,               -- template only: the MinHash of the first rejected comment
    rejections          INTEGER NOT NULL DEFAULT 0,
    approvals           INTEGER NOT NULL DEFAULT 0,
    moderators          INTEGER NOT NULL DEFAULT 0,   -- distinct moderator keys among the rejections
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,      -- refreshed by every backing rejection
    removed_at          TEXT,               -- a moderator removed it: it never holds again
    removed_by          TEXT,
    UNIQUE (site_id, kind, value)
);
CREATE INDEX campaign_signatures_live ON campaign_signatures (site_id, expires_at) WHERE removed_at IS NULL;

-- The moderator decisions behind each signature (readers' reports never appear here).
CREATE TABLE campaign_votes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    signature_id    INTEGER NOT NULL REFERENCES campaign_signatures(id),
    site_id         TEXT NOT NULL,
    comment_id      INTEGER NOT NULL REFERENCES comments(id),
    actor           TEXT NOT NULL,      -- key:<id>
    action          TEXT NOT NULL CHECK (action IN ('reject', 'approve')),
    label           TEXT NOT NULL,
    at              TEXT NOT NULL,
    UNIQUE (signature_id, comment_id, action)
);
CREATE INDEX campaign_votes_by_signature ON campaign_votes (signature_id, id);

-- A comment held by a learned campaign signature is spam for the queue's reason filter
-- (the trigger of 0002, with 'campaign' among the spam codes).
DROP TRIGGER comments_queue_fields;
CREATE TRIGGER comments_queue_fields AFTER INSERT ON comments
BEGIN
    UPDATE comments SET risk = COALESCE((SELECT MAX(CAST(value AS REAL)) FROM json_each(NEW.scores)), 0)
    WHERE id = NEW.id;
    INSERT OR IGNORE INTO comment_reason_kinds (comment_id, site_id, kind)
    SELECT NEW.id, NEW.site_id,
           CASE
               WHEN json_extract(value, '$.code') LIKE 'policy.%' THEN 'policy'
               WHEN json_extract(value, '$.code') IN ('spam', 'honeypot', 'too_fast', 'campaign') THEN 'spam'
               WHEN json_extract(value, '$.source') LIKE 'model:%' THEN 'toxic'
               ELSE 'other'
           END
    FROM json_each(NEW.reasons);
END;
