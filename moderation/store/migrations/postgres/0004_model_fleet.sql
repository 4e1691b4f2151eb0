-- One model everywhere (moderation/fleet.py): the promoted version lives in the database, so every
-- replica follows it, and each replica reports what it serves. Expand-only (see ../README.md):
-- two new tables, nothing an older replica reads is changed.
CREATE TABLE IF NOT EXISTS model_promotions (
    id           BIGSERIAL PRIMARY KEY,
    version      TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('promote', 'rollback')),
    actor        TEXT NOT NULL,          -- key:<id> for the API, cli:<user> for the command line
    promoted_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS model_replicas (
    replica_id   TEXT PRIMARY KEY,       -- host:pid:start, new at every start
    host         TEXT NOT NULL,
    serving      TEXT,                   -- the version this replica scores with (NULL: none loaded)
    wanted       TEXT,                   -- the promoted version it last saw
    error        TEXT,                   -- why it could not load ``wanted`` (NULL when in step)
    started_at   TIMESTAMPTZ NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS model_replicas_seen ON model_replicas (seen_at);
