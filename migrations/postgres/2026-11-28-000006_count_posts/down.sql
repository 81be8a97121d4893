DROP TRIGGER posts_counted ON posts;
DROP FUNCTION count_posts();
DROP TABLE post_counts;
