SELECT id, user_id, refresh_token_id, created_at, expires_at, revoked_at, last_used_at, ip, user_agent FROM sessions WHERE id = '193d17934ca2fe49004fb71d54881337';
INSERT INTO posts (user_id, title, content, created_at, updated_at) VALUES (1, 'Hello', 'A post of the benchmark, a sentence or two long, like most.', now(), now()) RETURNING id, user_id, title, content, created_at, updated_at;
