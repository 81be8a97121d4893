-- What the sessions list shows: when a session was last refreshed, and the
-- client address and user agent of its login. Sessions from before this
-- migration have no client, and were last used when they were created.
ALTER TABLE sessions ADD COLUMN last_used_at TIMESTAMP;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
UPDATE sessions SET last_used_at = created_at;

-- A user's live sessions, newest first, and every session of a user (at
-- once, on a password change); it serves what sessions_user_id did.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);
DROP INDEX sessions_user_id;
