-- Authors (issue 14 item 3): authors a site's moderators blocked, by the keyed hash of the e-mail
-- (moderation/author_hashes.py), never the address itself. One row per blocked author; unblocking
-- deletes it (the audit log keeps both actions, on the comment the moderator acted from).
-- No reference to comments: retention may remove that comment while the block stands.
CREATE TABLE author_blocks (
    site_id     TEXT NOT NULL REFERENCES sites (id),
    email_hash  TEXT NOT NULL,
    comment_id  INTEGER NOT NULL,   -- the comment the moderator blocked from
    actor       TEXT NOT NULL,
    note        TEXT,
    blocked_at  TEXT NOT NULL,
    PRIMARY KEY (site_id, email_hash)
);
