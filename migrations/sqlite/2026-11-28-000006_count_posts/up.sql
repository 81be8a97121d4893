-- How many posts there are, in all (user_id 0) and by author, kept by
-- triggers in the transaction of every insert and delete: a list's
-- X-Total-Count reads one row instead of counting them all. (One writer on
-- SQLite: one row a count, slot 0; see PostgreSQL's migration for slots.)
CREATE TABLE post_counts (
    user_id INTEGER NOT NULL,
    slot    INTEGER NOT NULL,
    total   INTEGER NOT NULL,
    PRIMARY KEY (user_id, slot)
);

INSERT INTO post_counts (user_id, slot, total) SELECT 0, 0, COUNT(*) FROM posts;
INSERT INTO post_counts (user_id, slot, total)
    SELECT user_id, 0, COUNT(*) FROM posts GROUP BY user_id;

CREATE TRIGGER posts_count_insert AFTER INSERT ON posts BEGIN
    INSERT INTO post_counts (user_id, slot, total) VALUES (0, 0, 1), (NEW.user_id, 0, 1)
        ON CONFLICT (user_id, slot) DO UPDATE SET total = total + 1;
END;

CREATE TRIGGER posts_count_delete AFTER DELETE ON posts BEGIN
    UPDATE post_counts SET total = total - 1 WHERE slot = 0 AND user_id IN (0, OLD.user_id);
END;
