-- How many posts there are, in all (user_id 0) and by author, kept by a
-- trigger in the transaction of every insert and delete: a list's
-- X-Total-Count reads a few rows instead of counting them all.
--
-- Writers on many connections would all wait on the lock of the one row of
-- the total: each connection adds to one of 16 rows (slots) of a count
-- instead, chosen by its backend's pid, and a count is their sum.
CREATE TABLE post_counts (
    user_id BIGINT   NOT NULL,
    slot    SMALLINT NOT NULL,
    total   BIGINT   NOT NULL,
    PRIMARY KEY (user_id, slot)
) WITH (fillfactor = 50); -- room on each page for updates that need no index change (HOT)

INSERT INTO post_counts (user_id, slot, total) SELECT 0, 0, COUNT(*) FROM posts;
INSERT INTO post_counts (user_id, slot, total)
    SELECT user_id, 0, COUNT(*) FROM posts GROUP BY user_id;

CREATE FUNCTION count_posts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    shard SMALLINT := pg_backend_pid() % 16;
BEGIN
    -- The total's row, then the author's: one order, so no deadlock.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO post_counts (user_id, slot, total) VALUES (0, shard, 1), (NEW.user_id, shard, 1)
            ON CONFLICT (user_id, slot) DO UPDATE SET total = post_counts.total + 1;
        RETURN NEW;
    END IF;
    INSERT INTO post_counts (user_id, slot, total) VALUES (0, shard, -1), (OLD.user_id, shard, -1)
        ON CONFLICT (user_id, slot) DO UPDATE SET total = post_counts.total - 1;
    RETURN OLD;
END
$$;

CREATE TRIGGER posts_counted AFTER INSERT OR DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION count_posts();
