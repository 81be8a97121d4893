//! Posts in the `posts` table.

use std::error::Error as _;

use blog_domain::ports::{Pending, PostRepository, RepositoryError};
use blog_domain::{
    NewPost, Page, PageRequest, Post, PostChanges, PostContent, PostId, PostTitle, UserId,
};
use diesel::prelude::*;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{StoredTime, corrupt, read_page, to_db_time};
use crate::batch::Batcher;
use crate::db::{
    Backend, DbConnection, DbPool, connection, repository_error, submit_statement, write_statement,
};
use crate::schema::{post_counts, posts};

/// [`PostRepository`] on the pool.
#[derive(Clone)]
pub struct DieselPostRepository {
    pool: DbPool,
    /// On PostgreSQL, the creates, written many to an `INSERT` (see the
    /// `batch` module). SQLite's writer batches them already, in one
    /// transaction, and a statement there costs no round trip.
    creates: Option<Batcher<NewPost, Post>>,
}

impl DieselPostRepository {
    /// A repository on `pool`; on PostgreSQL it starts the thread that
    /// writes the creates.
    pub fn new(pool: DbPool) -> Self {
        let creates = (pool.backend() == Backend::Postgres).then(|| {
            let pool = pool.clone();
            Batcher::start("post-creates", move |posts| insert_all(&pool, posts))
        });
        Self { pool, creates }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = posts)]
struct PostRow {
    id: i64,
    user_id: i64,
    title: String,
    content: String,
    created_at: StoredTime,
    updated_at: StoredTime,
}

impl TryFrom<PostRow> for Post {
    type Error = RepositoryError;

    fn try_from(row: PostRow) -> Result<Self, RepositoryError> {
        Ok(Post {
            id: PostId::new(row.id).map_err(corrupt)?,
            title: PostTitle::parse(&row.title).map_err(corrupt)?,
            content: PostContent::parse(row.content).map_err(corrupt)?,
            author_id: UserId::new(row.user_id).map_err(corrupt)?,
            created_at: row.created_at.utc(),
            updated_at: row.updated_at.utc(),
        })
    }
}

/// `None` fields are left as stored; `updated_at` always changes, so the
/// changeset is never empty.
#[derive(AsChangeset)]
#[diesel(table_name = posts)]
struct PostChangeset<'a> {
    title: Option<&'a str>,
    content: Option<&'a str>,
    updated_at: PrimitiveDateTime,
}

/// The columns of a new post.
type PostValues<'a> = (
    diesel::dsl::Eq<posts::user_id, i64>,
    diesel::dsl::Eq<posts::title, &'a str>,
    diesel::dsl::Eq<posts::content, &'a str>,
    diesel::dsl::Eq<posts::created_at, PrimitiveDateTime>,
    diesel::dsl::Eq<posts::updated_at, PrimitiveDateTime>,
);

fn values(post: &NewPost) -> PostValues<'_> {
    let at = to_db_time(post.created_at);
    (
        posts::user_id.eq(post.author_id.get()),
        posts::title.eq(post.title.as_str()),
        posts::content.eq(post.content.as_str()),
        posts::created_at.eq(at),
        posts::updated_at.eq(at),
    )
}

fn insert_one(conn: &mut DbConnection, post: &NewPost) -> QueryResult<PostRow> {
    native!(conn, |conn| diesel::insert_into(posts::table)
        .values(values(post))
        .returning(PostRow::as_returning())
        .get_result(conn))
}

/// Writes `posts` in one `INSERT` (one statement, so all or none) and
/// gives each its stored post, in order. If that fails for want of the
/// database, every post fails alike; if for one post's sake (its author
/// deleted meanwhile), each is written alone, so that only that one fails.
fn insert_all(pool: &DbPool, posts: Vec<NewPost>) -> Vec<Result<Post, RepositoryError>> {
    let each = |result: QueryResult<PostRow>| result.map_err(repository_error)?.try_into();
    let mut conn = match connection(pool) {
        Ok(conn) => conn,
        Err(error) => return for_each(&posts, &error),
    };
    if let [post] = &posts[..] {
        return vec![each(insert_one(&mut conn, post))];
    }
    let rows: Vec<_> = posts.iter().map(values).collect();
    let written = native!(&mut *conn, |conn| diesel::insert_into(posts::table)
        .values(&rows)
        .returning(PostRow::as_returning())
        .get_results(conn));
    match written.map_err(repository_error) {
        Ok(stored) => in_order(&posts, stored)
            .into_iter()
            .map(|row| row.map_or_else(|| Err(unmatched()), Post::try_from))
            .collect(),
        Err(error @ RepositoryError::Unavailable(_)) => for_each(&posts, &error),
        Err(_) => posts
            .iter()
            .map(|post| each(insert_one(&mut conn, post)))
            .collect(),
    }
}

/// `error`, told to the caller of each of `posts`: the same kind, with
/// its text (a source cannot be cloned).
fn for_each(posts: &[NewPost], error: &RepositoryError) -> Vec<Result<Post, RepositoryError>> {
    let text = error
        .source()
        .map_or_else(|| error.to_string(), ToString::to_string);
    posts
        .iter()
        .map(|_| {
            Err(match error {
                RepositoryError::Conflict => RepositoryError::Conflict,
                RepositoryError::Unavailable(_) => {
                    RepositoryError::Unavailable(text.clone().into())
                }
                RepositoryError::Internal(_) => RepositoryError::Internal(text.clone().into()),
            })
        })
        .collect()
}

/// The rows an `INSERT` of `posts` returned, each given to the post it
/// stores. PostgreSQL does not promise to return rows in the order of the
/// `VALUES` (though it does): each row goes to the first post not yet
/// given one whose columns it holds, looked for from the row's own place.
/// Posts that agree in every column are interchangeable.
fn in_order(posts: &[NewPost], stored: Vec<PostRow>) -> Vec<Option<PostRow>> {
    let mut given: Vec<Option<PostRow>> = posts.iter().map(|_| None).collect();
    for (place, row) in stored.into_iter().enumerate() {
        let holds = |index: &usize| {
            given.get(*index).is_some_and(Option::is_none)
                && posts.get(*index).is_some_and(|post| row.stores(post))
        };
        let found = (place..posts.len()).chain(0..place).find(holds);
        if let Some(slot) = found.and_then(|index| given.get_mut(index)) {
            *slot = Some(row);
        }
    }
    given
}

fn unmatched() -> RepositoryError {
    RepositoryError::Internal("an INSERT returned no row for a post it was given".into())
}

impl PostRow {
    /// Whether this row holds `post`: its times as stored, which on
    /// PostgreSQL keep microseconds (Diesel truncates the rest).
    fn stores(&self, post: &NewPost) -> bool {
        let kept = |stored: StoredTime| {
            (time::Duration::ZERO..time::Duration::MICROSECOND)
                .contains(&(post.created_at - stored.utc()))
        };
        self.user_id == post.author_id.get()
            && self.title == post.title.as_str()
            && self.content == post.content.as_str()
            && kept(self.created_at)
            && kept(self.updated_at)
    }
}

impl PostRepository for DieselPostRepository {
    fn create(&self, post: &NewPost) -> Pending<Post> {
        if let Some(creates) = &self.creates {
            return Box::pin(creates.submit(post.clone()));
        }
        let post = post.clone();
        let stored = submit_statement(&self.pool, move |conn| insert_one(conn, &post));
        Box::pin(async move { stored.await?.try_into() })
    }

    fn find(&self, id: PostId) -> Result<Option<Post>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        native!(&mut *conn, |conn| posts::table
            .find(id.get())
            .select(PostRow::as_select())
            .get_result(conn))
        .optional()
        .map_err(repository_error)?
        .map(Post::try_from)
        .transpose()
    }

    fn list(
        &self,
        author: Option<UserId>,
        page: PageRequest,
    ) -> Result<Page<Post>, RepositoryError> {
        read_page(
            &self.pool,
            page,
            // The count the triggers keep (see the migration `count_posts`):
            // a few rows (slots), however many posts there are. Summed
            // here: SQL's SUM would be a literal, which Diesel does not
            // keep prepared.
            |conn| {
                let counted = author.map_or(0, UserId::get);
                let slots: Vec<i64> = native!(conn, |conn| post_counts::table
                    .filter(post_counts::user_id.eq(counted))
                    .select(post_counts::total)
                    .load(conn))?;
                Ok(slots.into_iter().sum())
            },
            |conn, limit, offset| {
                native!(conn, |conn| {
                    // Ids grow with time on both backends: newest first is id order.
                    let newest = posts::table
                        .select(PostRow::as_select())
                        .order(posts::id.desc())
                        .limit(limit)
                        .offset(offset);
                    match author {
                        Some(author) => newest.filter(posts::user_id.eq(author.get())).load(conn),
                        None => newest.load(conn),
                    }
                })
            },
        )
    }

    fn update(
        &self,
        id: PostId,
        author: UserId,
        changes: &PostChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Post>, RepositoryError> {
        let changes = changes.clone();
        write_statement(&self.pool, move |conn| {
            let changeset = PostChangeset {
                title: changes.title.as_ref().map(PostTitle::as_str),
                content: changes.content.as_ref().map(PostContent::as_str),
                updated_at: to_db_time(at),
            };
            let own = posts::id.eq(id.get()).and(posts::user_id.eq(author.get()));
            native!(conn, |conn| diesel::update(posts::table.filter(own))
                .set(&changeset)
                .returning(PostRow::as_returning())
                .get_result(conn))
            .optional()
        })?
        .map(Post::try_from)
        .transpose()
    }

    fn delete(&self, id: PostId, author: UserId) -> Result<bool, RepositoryError> {
        let deleted = write_statement(&self.pool, move |conn| {
            let own = posts::id.eq(id.get()).and(posts::user_id.eq(author.get()));
            native!(conn, |conn| diesel::delete(posts::table.filter(own))
                .execute(conn))
        })?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use blog_domain::ports::UserRepository;
    use blog_domain::{NewUser, PasswordHash, SecurityEvent, SecurityEventKind, Username};
    use time::macros::datetime;

    use super::*;
    use crate::db::{DatabaseUrl, PoolOptions};
    use crate::repositories::DieselUserRepository;
    use crate::testing::{TestBackend, TestDatabase};

    const AT: OffsetDateTime = datetime!(2026-12-04 10:00:00.123_456_789 UTC);

    /// A migrated pool on a fresh database of `backend`, with the users
    /// alice and bob; the database lives as long as the guard.
    fn database(backend: TestBackend) -> (TestDatabase, DbPool, UserId, UserId) {
        let database = TestDatabase::new(backend);
        let pool = crate::db::pool(
            &DatabaseUrl::parse(database.url()).unwrap(),
            &PoolOptions {
                max_size: 2,
                connection_timeout: Duration::from_secs(5),
            },
        );
        crate::db::run_migrations(&pool).unwrap();
        let users = DieselUserRepository::new(pool.clone());
        let user = |name: &str| {
            let new = NewUser {
                username: Username::parse(name).unwrap(),
                password_hash: Some(PasswordHash::new(format!("$2b$04$hash-of-{name}"))),
                created_at: AT,
            };
            let event = SecurityEvent {
                kind: SecurityEventKind::Registered,
                user_id: None,
                session_id: None,
                client: blog_domain::Client::default(),
                provider: None,
                at: AT,
            };
            users.create(&new, &event).unwrap().id
        };
        let (alice, bob) = (user("alice"), user("bob"));
        (database, pool, alice, bob)
    }

    fn post(author: UserId, title: &str, nanos: i64) -> NewPost {
        NewPost {
            author_id: author,
            title: PostTitle::parse(title).unwrap(),
            content: PostContent::parse(format!("the content of {title}")).unwrap(),
            created_at: AT + time::Duration::nanoseconds(nanos),
        }
    }

    fn each_post_gets_its_own_stored_row(backend: TestBackend) {
        let (_database, pool, alice, bob) = database(backend);
        // Two alike but for the time, one alike in every column but the
        // author, and another title.
        let posts = [
            post(alice, "same", 0),
            post(bob, "same", 0),
            post(alice, "same", 5_000),
            post(alice, "other", 0),
        ];
        let stored: Vec<Post> = insert_all(&pool, posts.to_vec())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let repository = DieselPostRepository::new(pool);
        for (post, stored) in posts.iter().zip(&stored) {
            assert_eq!(
                (
                    stored.author_id,
                    stored.title.as_str(),
                    stored.content.as_str()
                ),
                (post.author_id, post.title.as_str(), post.content.as_str())
            );
            let behind = post.created_at - stored.created_at;
            assert!(
                (time::Duration::ZERO..time::Duration::MICROSECOND).contains(&behind),
                "{} stored as {}",
                post.created_at,
                stored.created_at
            );
            assert_eq!(stored.updated_at, stored.created_at);
            assert_eq!(repository.find(stored.id).unwrap().as_ref(), Some(stored));
        }
        let ids: Vec<i64> = stored.iter().map(|post| post.id.get()).collect();
        assert!(
            ids.is_sorted() && ids.windows(2).all(|pair| pair[0] != pair[1]),
            "{ids:?}"
        );
        let total = |author| {
            repository
                .list(author, PageRequest::default())
                .unwrap()
                .total
        };
        assert_eq!(
            (total(None), total(Some(alice)), total(Some(bob))),
            (4, 3, 1)
        );
    }

    fn a_post_that_cannot_be_stored_fails_alone(backend: TestBackend) {
        let (_database, pool, alice, bob) = database(backend);
        let nobody = UserId::new(1_000_000).unwrap();
        let results = insert_all(
            &pool,
            vec![post(alice, "a", 0), post(nobody, "n", 0), post(bob, "b", 0)],
        );
        let outcomes: Vec<Result<&str, String>> = results
            .iter()
            .map(|result| {
                result
                    .as_ref()
                    .map(|post| post.title.as_str())
                    .map_err(ToString::to_string)
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                Ok("a"),
                Err(RepositoryError::Internal("".into()).to_string()),
                Ok("b")
            ]
        );
        let repository = DieselPostRepository::new(pool);
        assert_eq!(
            repository.list(None, PageRequest::default()).unwrap().total,
            2
        );
    }

    crate::backend_matrix!(
        crate::repositories::posts::tests::on;
        each_post_gets_its_own_stored_row,
        a_post_that_cannot_be_stored_fails_alone,
    );

    fn on(backend: TestBackend, test: fn(TestBackend)) {
        test(backend);
    }

    fn row(id: i64, post: &NewPost) -> PostRow {
        let at = StoredTime::of(post.created_at);
        PostRow {
            id,
            user_id: post.author_id.get(),
            title: post.title.as_str().to_owned(),
            content: post.content.as_str().to_owned(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn rows_go_to_the_posts_they_store_in_whatever_order_they_come() {
        let (alice, bob) = (UserId::new(1).unwrap(), UserId::new(2).unwrap());
        let posts = [
            post(alice, "a", 0),
            post(bob, "b", 0),
            post(alice, "a", 0),
            post(alice, "a", 1_000),
        ];
        let ids = |rows: Vec<Option<PostRow>>| -> Vec<Option<i64>> {
            rows.into_iter().map(|row| row.map(|row| row.id)).collect()
        };
        let in_place: Vec<PostRow> = (1..).zip(&posts).map(|(id, post)| row(id, post)).collect();
        assert_eq!(
            ids(in_order(&posts, in_place)),
            [Some(1), Some(2), Some(3), Some(4)]
        );
        let reversed = vec![
            row(4, &posts[3]),
            row(3, &posts[2]),
            row(2, &posts[1]),
            row(1, &posts[0]),
        ];
        let given = ids(in_order(&posts, reversed));
        assert_eq!((given[1], given[3]), (Some(2), Some(4)), "{given:?}");
        assert!(
            [[Some(1), Some(3)], [Some(3), Some(1)]].contains(&[given[0], given[2]]),
            "the two alike in every column take their two rows: {given:?}"
        );
        let short = vec![row(9, &posts[1]), row(8, &post(bob, "stranger", 0))];
        assert_eq!(
            ids(in_order(&posts, short)),
            [None, Some(9), None, None],
            "a row of no post given is left out, and a post without a row has none"
        );
    }
}
