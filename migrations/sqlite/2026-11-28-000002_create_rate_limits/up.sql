-- The rate limiter's fixed windows, shared by every instance: one row a
-- key (an action and a client address, or a username), the start of its
-- current window in unix seconds, and the hits counted in it. Updated by
-- one atomic upsert a hit.
CREATE TABLE rate_limits (
    key          TEXT   PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);

-- The purge of windows that have ended.
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
