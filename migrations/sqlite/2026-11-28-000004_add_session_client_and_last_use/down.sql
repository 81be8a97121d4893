CREATE INDEX sessions_user_id ON sessions (user_id);
DROP INDEX sessions_user_id_created_at;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN last_used_at;
