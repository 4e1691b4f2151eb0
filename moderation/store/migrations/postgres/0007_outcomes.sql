-- Outcomes beyond publish/hold (issue 14): the automatic decision 'reject' and the status 'spam'.
ALTER TABLE comments DROP CONSTRAINT comments_status_check;
ALTER TABLE comments ADD CONSTRAINT comments_status_check
    CHECK (status IN ('published', 'held', 'rejected', 'removed', 'spam'));
ALTER TABLE comments DROP CONSTRAINT comments_decision_check;
ALTER TABLE comments ADD CONSTRAINT comments_decision_check CHECK (decision IN ('publish', 'hold', 'reject'));

-- Which webhook events the site receives: comma-separated comment.created, comment.status_changed
-- (NULL: comment.status_changed only, what every site received before comment.created existed).
ALTER TABLE sites ADD COLUMN webhook_events TEXT;

-- Shadow mode: the decision the site's rules made while everything was published (NULL: not in shadow mode).
ALTER TABLE comments ADD COLUMN shadow_decision TEXT CHECK (shadow_decision IN ('publish', 'hold', 'reject'));
CREATE INDEX comments_shadow ON comments (site_id, shadow_decision, id) WHERE shadow_decision IS NOT NULL;

-- Edits: the audit event of an edit keeps the text it replaced (the comment row holds only the newest).
ALTER TABLE comment_events ADD COLUMN previous_content TEXT;
