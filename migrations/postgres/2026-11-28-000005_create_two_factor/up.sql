-- Two-factor login (TOTP). The secret is sealed (XChaCha20-Poly1305, with
-- a key from configuration that the database never sees); `active` is set
-- by the first confirmed code; `last_step` is the time step of the last
-- code accepted, so that no code is accepted twice.
CREATE TABLE totp_credentials (
    user_id    BIGINT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed     TEXT      NOT NULL,
    active     BOOLEAN   NOT NULL,
    last_step  BIGINT,
    created_at TIMESTAMP NOT NULL
);

-- Recovery codes, as SHA-256 digests only.
CREATE TABLE recovery_codes (
    user_id   BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT      NOT NULL,
    used_at   TIMESTAMP,
    PRIMARY KEY (user_id, code_hash)
);

-- Second login steps, by the SHA-256 digest of their mfa_token.
CREATE TABLE mfa_challenges (
    token_hash TEXT      PRIMARY KEY,
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    failures   INTEGER   NOT NULL,
    used_at    TIMESTAMP
);

CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);
