//! Posts in the `posts` table.

use blog_domain::ports::{Pending, PostRepository, RepositoryError};
use blog_domain::{
    NewPost, Page, PageRequest, Post, PostChanges, PostContent, PostId, PostTitle, UserId,
};
use diesel::prelude::*;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{StoredTime, corrupt, read_page, to_db_time};
use crate::db::{DbPool, connection, repository_error, submit_statement, write_statement};
use crate::schema::{post_counts, posts};

/// [`PostRepository`] on the pool.
#[derive(Clone)]
pub struct DieselPostRepository {
    pool: DbPool,
}

impl DieselPostRepository {
    /// A repository on `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
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

impl PostRepository for DieselPostRepository {
    fn create(&self, post: &NewPost) -> Pending<Post> {
        let post = post.clone();
        let stored = submit_statement(&self.pool, move |conn| {
            let at = to_db_time(post.created_at);
            let values = (
                posts::user_id.eq(post.author_id.get()),
                posts::title.eq(post.title.as_str()),
                posts::content.eq(post.content.as_str()),
                posts::created_at.eq(at),
                posts::updated_at.eq(at),
            );
            native!(conn, |conn| diesel::insert_into(posts::table)
                .values(values)
                .returning(PostRow::as_returning())
                .get_result(conn))
        });
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
