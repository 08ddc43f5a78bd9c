-- Voice broadcasts, 1:1 conversations and their voice messages, reports.
CREATE TABLE broadcasts (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- storage key of the voice file; NULL once the file was cleaned up
    voice_key   TEXT,
    duration_ms INTEGER,
    active      BOOLEAN     NOT NULL DEFAULT true,
    expired_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX broadcasts_live_idx ON broadcasts (id DESC) WHERE active;
CREATE INDEX broadcasts_user_idx ON broadcasts (user_id, created_at);

-- One conversation per pair of users (user_a < user_b); hidden/favorite per side.
CREATE TABLE conversations (
    id              BIGSERIAL PRIMARY KEY,
    user_a          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_b          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- false once either side deleted it: closed for posting
    active          BOOLEAN     NOT NULL DEFAULT true,
    a_hidden        BOOLEAN     NOT NULL DEFAULT false,
    b_hidden        BOOLEAN     NOT NULL DEFAULT false,
    a_favorite      BOOLEAN     NOT NULL DEFAULT false,
    b_favorite      BOOLEAN     NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_message_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_a, user_b),
    CHECK (user_a < user_b)
);
CREATE INDEX conversations_user_b_idx ON conversations (user_b);

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    voice_key       TEXT        NOT NULL,
    duration_ms     INTEGER,
    read            BOOLEAN     NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id DESC);

CREATE TABLE reports (
    id          BIGSERIAL PRIMARY KEY,
    reporter_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reported_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      TEXT        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (reporter_id <> reported_id)
);
