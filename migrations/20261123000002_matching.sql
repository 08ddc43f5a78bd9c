-- Match preferences (the live pool itself is in Redis).
CREATE TABLE match_settings (
    user_id          BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    preferred_gender TEXT        NOT NULL CHECK (preferred_gender IN ('male', 'female', 'all')),
    age_min          INTEGER     NOT NULL,
    age_max          INTEGER     NOT NULL,
    -- NULL: no distance limit
    radius_km        INTEGER     CHECK (radius_km BETWEEN 1 AND 20000),
    lat              DOUBLE PRECISION,
    lng              DOUBLE PRECISION,
    -- the pool shard (MATCH_SHARDS) the user waits in; NULL: the first
    region           TEXT,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (age_min <= age_max)
);

-- Blocks hide two users from each other everywhere (matching, broadcasts, conversations).
CREATE TABLE blocks (
    id         BIGSERIAL PRIMARY KEY,
    blocker_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_id_idx ON blocks (blocked_id);

-- Every change of a gem balance, in the same transaction as the change;
-- users.gems is always the sum of a user's deltas. (reason, ref) makes each
-- charge idempotent: one row per match charged, per payment credited.
CREATE TABLE gem_ledger (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    delta         BIGINT      NOT NULL,
    balance_after BIGINT      NOT NULL CHECK (balance_after >= 0),
    reason        TEXT        NOT NULL,
    ref           TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, reason, ref)
);

-- Match ids are handed out in blocks of this sequence (see matching::ids), so
-- that they never repeat, even after Redis restarts empty.
CREATE SEQUENCE match_id_blocks;
