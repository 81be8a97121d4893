DROP TABLE sessions;
DROP TABLE posts;
DROP TABLE users;
