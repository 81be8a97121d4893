-- Third-party login (OpenID Connect). A user made by a provider's login
-- has no password: its password_hash is '' (never a hash any hasher makes),
-- which the users repository reads as "no password". (SQLite cannot drop
-- the column's NOT NULL without rebuilding the table under its foreign keys.)

-- A provider's user (its `sub`) links to one local user.
CREATE TABLE user_identities (
    provider   TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    user_id    INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, subject)
);

CREATE INDEX user_identities_user_id ON user_identities (user_id);

-- Logins sent to a provider, until its callback takes them (once), by the
-- SHA-256 digest of their `state`: the nonce and PKCE verifier to check
-- the answer with. Short-lived; purged when expired.
CREATE TABLE pending_logins (
    state_hash    TEXT      PRIMARY KEY NOT NULL,
    provider      TEXT      NOT NULL,
    nonce         TEXT      NOT NULL,
    pkce_verifier TEXT      NOT NULL,
    expires_at    TIMESTAMP NOT NULL
);

CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

-- The identity provider of a third-party login's events.
ALTER TABLE security_events ADD COLUMN provider TEXT;
