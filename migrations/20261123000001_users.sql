-- One table for both kinds of account: username (matching document),
-- phone number (Talk document), or both.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT,
    phone_number  TEXT,
    nickname      TEXT,
    password_hash TEXT        NOT NULL,
    age           INTEGER,
    gender        TEXT        CHECK (gender IN ('male', 'female')),
    -- storage key of the re-encoded profile image, not a URL
    profile_image TEXT,
    gems          BIGINT      NOT NULL DEFAULT 0 CHECK (gems >= 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at TIMESTAMPTZ,
    CHECK (username IS NOT NULL OR phone_number IS NOT NULL)
);

-- usernames are unique without regard to case: "Alice" and "alice" are one account
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_phone_number_key ON users (phone_number);
