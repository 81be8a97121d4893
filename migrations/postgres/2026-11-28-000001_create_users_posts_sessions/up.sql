-- Timestamps are UTC without a zone, as in the SQLite schema, so one
-- repository code serves both backends.
CREATE TABLE users (
    id            BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT      NOT NULL UNIQUE,
    password_hash TEXT      NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE posts (
    id         BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT      NOT NULL,
    content    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Listing one author's posts newest first.
CREATE INDEX posts_user_id_id ON posts (user_id, id);

-- One row per login. Tokens are never stored: only the id (jti) of the one
-- refresh token of the session that may still be used.
CREATE TABLE sessions (
    id               TEXT      PRIMARY KEY,
    user_id          BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_id TEXT      NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    revoked_at       TIMESTAMP
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
