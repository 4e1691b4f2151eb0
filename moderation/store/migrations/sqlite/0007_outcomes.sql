-- Outcomes beyond publish/hold (issue 14): the automatic decision 'reject' and the status 'spam'.

-- SQLite cannot alter a CHECK constraint; its documented way for a change that only widens one
-- (no stored row can break it) is to edit the table's CREATE text in the schema and reset the schema
-- cache (https://sqlite.org/lang_altertable.html#otheralter). It leaves every column, index, trigger and
-- reference as it is, including the columns other migrations added to comments.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(
    replace(sql, 'CHECK (status IN (''published'', ''held'', ''rejected'', ''removed''))',
                 'CHECK (status IN (''published'', ''held'', ''rejected'', ''removed'', ''spam''))'),
    'CHECK (decision IN (''publish'', ''hold''))', 'CHECK (decision IN (''publish'', ''hold'', ''reject''))')
WHERE type = 'table' AND name = 'comments';
PRAGMA writable_schema = RESET;

-- The Spam tab lists by status like the held queue; comments_by_status (site_id, status, id) serves it.

-- Which webhook events the site receives: comma-separated comment.created, comment.status_changed
-- (NULL: comment.status_changed only, what every site received before comment.created existed).
ALTER TABLE sites ADD COLUMN webhook_events TEXT;

-- Shadow mode: the decision the site's rules made while everything was published (NULL: not in shadow mode).
ALTER TABLE comments ADD COLUMN shadow_decision TEXT CHECK (shadow_decision IN ('publish', 'hold', 'reject'));
CREATE INDEX comments_shadow ON comments (site_id, shadow_decision, id) WHERE shadow_decision IS NOT NULL;

-- Edits: the audit event of an edit keeps the text it replaced (the comment row holds only the newest).
ALTER TABLE comment_events ADD COLUMN previous_content TEXT;
