-- The audit trail: one row a security event. `kind` is the contract's event
-- type; `user_id` is null for a failed login of an unknown username;
-- `session_id` names a session that may since have been purged, so it is
-- no foreign key. Never a password, hash or token.
CREATE TABLE security_events (
    id         BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT      NOT NULL,
    user_id    BIGINT    REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    at         TIMESTAMP NOT NULL
);

-- A user's events, newest first.
CREATE INDEX security_events_user_id_id ON security_events (user_id, id);
-- The purge of events past their retention.
CREATE INDEX security_events_at ON security_events (at);
