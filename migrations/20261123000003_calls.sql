-- Calls, written once when they end (by a participant or by the server).
CREATE TABLE calls (
    id              BIGSERIAL PRIMARY KEY,
    call_session_id TEXT        NOT NULL UNIQUE,
    match_id        BIGINT      NOT NULL,
    user_a          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_b          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at      TIMESTAMPTZ NOT NULL,
    ended_at        TIMESTAMPTZ NOT NULL,
    duration_sec    INTEGER     NOT NULL CHECK (duration_sec >= 0),
    -- 'hangup': a participant ended it; 'idle': both sides vanished
    end_reason      TEXT        NOT NULL
);
CREATE INDEX calls_user_a_idx ON calls (user_a, id DESC);
CREATE INDEX calls_user_b_idx ON calls (user_b, id DESC);

-- One rating per rater per call.
CREATE TABLE ratings (
    id         BIGSERIAL PRIMARY KEY,
    call_id    BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    rater_id   BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rated_id   BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating     SMALLINT    NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment    TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (call_id, rater_id)
);
CREATE INDEX ratings_rated_id_idx ON ratings (rated_id);

-- Gem purchases: a payment token credits once, and its answer is kept for repeats.
CREATE TABLE payments (
    id            BIGSERIAL PRIMARY KEY,
    payment_token TEXT        NOT NULL UNIQUE,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    gems_added    BIGINT      NOT NULL CHECK (gems_added > 0),
    new_balance   BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
