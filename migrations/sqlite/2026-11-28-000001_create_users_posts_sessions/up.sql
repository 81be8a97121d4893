-- AUTOINCREMENT: an id is never handed out twice, even after a delete.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT      NOT NULL UNIQUE,
    password_hash TEXT      NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
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
    id               TEXT      PRIMARY KEY NOT NULL,
    user_id          INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_id TEXT      NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    revoked_at       TIMESTAMP
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
