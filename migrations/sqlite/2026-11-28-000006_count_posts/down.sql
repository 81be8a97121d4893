DROP TRIGGER posts_count_delete;
DROP TRIGGER posts_count_insert;
DROP TABLE post_counts;
