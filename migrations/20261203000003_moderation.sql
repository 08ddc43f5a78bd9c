-- Safety (SPEC.md "Beyond the documents: safety, presence, push"): roles,
-- suspensions, the state of reports, appeals, the admins' audit trail, and
-- deleted accounts.

-- `suspended_at` set: suspended, until `suspended_until` (NULL: until lifted).
-- A suspension ends by itself at `suspended_until`: readers compare it with now().
ALTER TABLE users
    ADD COLUMN role            TEXT        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    ADD COLUMN suspended_at    TIMESTAMPTZ,
    ADD COLUMN suspended_until TIMESTAMPTZ,
    ADD COLUMN deleted_at      TIMESTAMPTZ;

-- a deleted account keeps its row (what others saw stays) without a name or phone
ALTER TABLE users DROP CONSTRAINT users_check;
ALTER TABLE users ADD CONSTRAINT users_named
    CHECK (deleted_at IS NOT NULL OR username IS NOT NULL OR phone_number IS NOT NULL);

-- open → resolved (an admin acted on the user) or dismissed
ALTER TABLE reports
    ADD COLUMN status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed'));
CREATE INDEX reports_recent_by_reported ON reports (reported_id, created_at);
CREATE INDEX reports_by_status ON reports (status, reported_id);

CREATE TABLE appeals (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      TEXT        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    status      TEXT        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
    note        TEXT,
    resolved_by BIGINT      REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ
);
-- one open appeal a user
CREATE UNIQUE INDEX appeals_one_open ON appeals (user_id) WHERE status = 'open';

CREATE TABLE admin_audit (
    id         BIGSERIAL PRIMARY KEY,
    admin_id   BIGINT      REFERENCES users (id),
    action     TEXT        NOT NULL,
    user_id    BIGINT      REFERENCES users (id),
    subject_id BIGINT,
    detail     JSONB       NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- a deleted account is shown to others as "deleted user" (its calls, ratings and
-- messages stay); the rule is written here once, as for the other shown names
ALTER TABLE users
    DROP COLUMN shown_nickname,
    DROP COLUMN shown_username;
ALTER TABLE users
    ADD COLUMN shown_nickname TEXT GENERATED ALWAYS AS
        (CASE WHEN deleted_at IS NOT NULL THEN 'deleted user' ELSE COALESCE(nickname, username, '') END) STORED,
    ADD COLUMN shown_username TEXT GENERATED ALWAYS AS
        (CASE WHEN deleted_at IS NOT NULL THEN 'deleted user' ELSE COALESCE(username, nickname, '') END) STORED;
