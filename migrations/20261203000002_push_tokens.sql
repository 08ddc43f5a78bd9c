-- Push (SPEC.md "Beyond the documents: safety, presence, push"): the devices a
-- user registered for notifications while no WebSocket/SSE of theirs is open.
-- A token names one device, so it belongs to one user: registering it again
-- (another account signed in on the phone) moves it. A token the provider
-- calls invalid (HTTP 410) is deleted.
CREATE TABLE push_tokens (
    token      TEXT        PRIMARY KEY CHECK (char_length(token) BETWEEN 1 AND 4096),
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform   TEXT        NOT NULL CHECK (platform IN ('fcm', 'apns')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX push_tokens_by_user ON push_tokens (user_id);
