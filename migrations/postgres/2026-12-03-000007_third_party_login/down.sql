ALTER TABLE security_events DROP COLUMN provider;
DROP TABLE pending_logins;
DROP TABLE user_identities;
