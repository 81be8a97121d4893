//! Posts: their validated parts, the author rule, and [`PostService`].

use std::sync::Arc;

use time::OffsetDateTime;

use crate::ports::{Clock, PostRepository};
use crate::{
    DomainError, ForbiddenAction, Page, PageRequest, PostId, Resource, UserId, ValidationError,
};

/// A post title: 1 to 200 characters, stored trimmed, no control characters
/// (a title is one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTitle(String);

impl PostTitle {
    /// Longest title, in characters (Unicode scalar values) after trimming.
    pub const MAX_CHARS: usize = 200;

    /// Trims surrounding white space, then checks the length.
    ///
    /// # Errors
    /// [`ValidationError::InvalidTitle`] when nothing or more than 200 characters remain.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if (1..=Self::MAX_CHARS).contains(&chars) && !trimmed.chars().any(char::is_control) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(ValidationError::InvalidTitle)
        }
    }

    /// The title as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Post content: at most 100,000 characters, kept exactly as sent, without
/// NUL (which PostgreSQL cannot store in text, and no text needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostContent(String);

impl PostContent {
    /// Longest content, in characters (Unicode scalar values).
    pub const MAX_CHARS: usize = 100_000;

    /// Checks the length and for NUL; the text is kept byte for byte.
    ///
    /// # Errors
    /// [`ValidationError::InvalidContent`] past 100,000 characters or with a NUL.
    pub fn parse(raw: String) -> Result<Self, ValidationError> {
        // Bytes bound characters from above: skip the count for short texts.
        let short_enough = raw.len() <= Self::MAX_CHARS || raw.chars().count() <= Self::MAX_CHARS;
        if short_enough && !raw.contains('\0') {
            Ok(Self(raw))
        } else {
            Err(ValidationError::InvalidContent)
        }
    }

    /// The content as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// The post's id.
    pub id: PostId,
    /// Its title.
    pub title: PostTitle,
    /// Its content.
    pub content: PostContent,
    /// The user who wrote it, the only one who may change it.
    pub author_id: UserId,
    /// When it was created (UTC, whole seconds).
    pub created_at: OffsetDateTime,
    /// When it was last changed (UTC, whole seconds).
    pub updated_at: OffsetDateTime,
}

impl Post {
    /// The author rule: only the author may edit or delete a post.
    ///
    /// # Errors
    /// [`DomainError::Forbidden`] with `action` when `user` is not the author.
    pub fn ensure_author(&self, user: UserId, action: ForbiddenAction) -> Result<(), DomainError> {
        if self.author_id == user {
            Ok(())
        } else {
            Err(DomainError::Forbidden(action))
        }
    }
}

/// A post about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    /// Its title.
    pub title: PostTitle,
    /// Its content.
    pub content: PostContent,
    /// Its author.
    pub author_id: UserId,
    /// Creation time, also its first `updated_at`.
    pub created_at: OffsetDateTime,
}

/// The parts of a post to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostChanges {
    /// A new title, if any.
    pub title: Option<PostTitle>,
    /// New content, if any.
    pub content: Option<PostContent>,
}

/// Reading and writing posts under the author rule.
#[derive(Clone)]
pub struct PostService {
    posts: Arc<dyn PostRepository>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PostService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostService").finish_non_exhaustive()
    }
}

impl PostService {
    /// Builds the service on its ports.
    pub fn new(posts: Arc<dyn PostRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { posts, clock }
    }

    /// One page of posts, newest first, optionally of one author only.
    ///
    /// # Errors
    /// [`DomainError::Unavailable`] or [`DomainError::Internal`] from the store.
    pub fn list(
        &self,
        author: Option<UserId>,
        page: PageRequest,
    ) -> Result<Page<Post>, DomainError> {
        Ok(self.posts.list(author, page)?)
    }

    /// One post.
    ///
    /// # Errors
    /// [`DomainError::NotFound`] when there is no such post; store failures.
    pub fn get(&self, id: PostId) -> Result<Post, DomainError> {
        self.posts
            .find(id)?
            .ok_or(DomainError::NotFound(Resource::Post))
    }

    /// Stores a new post by `author`. Unlike the other methods it blocks
    /// nothing: it hands the write to the store and returns a future of the
    /// stored post, to await where it is called (an async worker too).
    ///
    /// # Errors
    /// Store failures only: the parts are valid by construction.
    pub fn create(
        &self,
        author: UserId,
        title: PostTitle,
        content: PostContent,
    ) -> impl Future<Output = Result<Post, DomainError>> + Send + 'static {
        let post = NewPost {
            title,
            content,
            author_id: author,
            created_at: self.clock.now(),
        };
        let stored = self.posts.create(&post);
        async move { Ok(stored.await?) }
    }

    /// The post `id`, if `actor` may edit it: the checks an edit makes
    /// before its body is judged, so that an edge can answer in the
    /// contract's order (the post exists, then it is the actor's, then the
    /// changes are valid) and call [`update`](Self::update) after.
    ///
    /// # Errors
    /// [`DomainError::NotFound`], then [`DomainError::Forbidden`]; store failures.
    pub fn editable(&self, actor: UserId, id: PostId) -> Result<Post, DomainError> {
        let post = self.get(id)?;
        post.ensure_author(actor, ForbiddenAction::EditPost)?;
        Ok(post)
    }

    /// Applies `changes` to post `id` if `actor` wrote it.
    ///
    /// # Errors
    /// [`DomainError::NotFound`], then [`DomainError::Forbidden`]; store failures.
    pub fn update(
        &self,
        actor: UserId,
        id: PostId,
        changes: &PostChanges,
    ) -> Result<Post, DomainError> {
        self.editable(actor, id)?;
        // The write is scoped to the author too, so a concurrent change of
        // hands or a delete cannot slip between the check and the write.
        self.posts
            .update(id, actor, changes, self.clock.now())?
            .ok_or(DomainError::NotFound(Resource::Post))
    }

    /// Deletes post `id` if `actor` wrote it.
    ///
    /// # Errors
    /// [`DomainError::NotFound`], then [`DomainError::Forbidden`]; store failures.
    pub fn delete(&self, actor: UserId, id: PostId) -> Result<(), DomainError> {
        self.get(id)?
            .ensure_author(actor, ForbiddenAction::DeletePost)?;
        if self.posts.delete(id, actor)? {
            Ok(())
        } else {
            Err(DomainError::NotFound(Resource::Post))
        }
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockClock, MockPostRepository, RepositoryError};
    use crate::test_support::{NOW, post, user_id};
    use crate::testing::block_on;

    fn service(posts: MockPostRepository) -> PostService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        PostService::new(Arc::new(posts), Arc::new(clock))
    }

    fn changes() -> PostChanges {
        PostChanges {
            title: Some(PostTitle::parse("New").unwrap()),
            content: None,
        }
    }

    #[test]
    fn titles_are_trimmed_and_1_to_200_characters() {
        assert_eq!(PostTitle::parse("  Hello  ").unwrap().as_str(), "Hello");
        assert!(PostTitle::parse(&"é".repeat(200)).is_ok());
        for bad in ["", "   ", "\n\t"] {
            assert_eq!(PostTitle::parse(bad), Err(ValidationError::InvalidTitle));
        }
        assert_eq!(
            PostTitle::parse(&"x".repeat(201)),
            Err(ValidationError::InvalidTitle)
        );
        assert_eq!(
            PostTitle::parse("two\nlines"),
            Err(ValidationError::InvalidTitle)
        );
        assert_eq!(
            PostTitle::parse("nul\0"),
            Err(ValidationError::InvalidTitle)
        );
    }

    #[test]
    fn content_is_kept_exactly_and_limited_to_100000_characters() {
        let text = "  '; DROP TABLE posts; -- 🎉  ".to_owned();
        assert_eq!(PostContent::parse(text.clone()).unwrap().as_str(), text);
        assert!(PostContent::parse(String::new()).is_ok());
        // Multi-byte characters count once each.
        assert!(PostContent::parse("🎉".repeat(100_000)).is_ok());
        assert_eq!(
            PostContent::parse("x".repeat(100_001)),
            Err(ValidationError::InvalidContent)
        );
        assert_eq!(
            PostContent::parse("a\0b".into()),
            Err(ValidationError::InvalidContent)
        );
        assert!(PostContent::parse("lines\n\ttabs\r\n".into()).is_ok());
    }

    #[test]
    fn create_stamps_the_author_and_the_time() {
        let mut posts = MockPostRepository::new();
        posts
            .expect_create()
            .withf(|new| {
                new.author_id == user_id(7) && new.created_at == NOW && new.title.as_str() == "Hi"
            })
            .times(1)
            .returning(|_| Box::pin(std::future::ready(Ok(post(1, 7)))));
        let created = block_on(service(posts).create(
            user_id(7),
            PostTitle::parse("Hi").unwrap(),
            PostContent::parse("body".into()).unwrap(),
        ));
        assert_eq!(created.unwrap().id, PostId::new(1).unwrap());
    }

    #[test]
    fn create_hands_the_write_to_the_store_before_it_is_awaited() {
        let mut posts = MockPostRepository::new();
        // Checked when the service (and the mock) is dropped.
        posts
            .expect_create()
            .times(1)
            .returning(|_| Box::pin(std::future::ready(Ok(post(1, 7)))));
        let posts = service(posts);
        drop(posts.create(
            user_id(7),
            PostTitle::parse("Hi").unwrap(),
            PostContent::parse("body".into()).unwrap(),
        ));
    }

    #[test]
    fn a_failed_create_is_the_store_s_failure() {
        let mut posts = MockPostRepository::new();
        posts.expect_create().returning(|_| {
            Box::pin(std::future::ready(Err(RepositoryError::Unavailable(
                "down".into(),
            ))))
        });
        let created = block_on(service(posts).create(
            user_id(7),
            PostTitle::parse("Hi").unwrap(),
            PostContent::parse("body".into()).unwrap(),
        ));
        assert!(
            matches!(created, Err(DomainError::Unavailable(_))),
            "{created:?}"
        );
    }

    #[test]
    fn get_of_a_missing_post_is_not_found() {
        let mut posts = MockPostRepository::new();
        posts.expect_find().returning(|_| Ok(None));
        assert!(matches!(
            service(posts).get(PostId::new(9).unwrap()),
            Err(DomainError::NotFound(Resource::Post))
        ));
    }

    #[test]
    fn list_passes_the_filter_and_page_through() {
        let mut posts = MockPostRepository::new();
        posts
            .expect_list()
            .with(eq(Some(user_id(3))), eq(PageRequest::default()))
            .times(1)
            .returning(|_, request| {
                Ok(Page {
                    items: vec![post(1, 3)],
                    total: 1,
                    request,
                })
            });
        let page = service(posts)
            .list(Some(user_id(3)), PageRequest::default())
            .unwrap();
        assert_eq!((page.items.len(), page.total), (1, 1));
    }

    #[test]
    fn store_outages_surface_as_unavailable() {
        let mut posts = MockPostRepository::new();
        posts
            .expect_find()
            .returning(|_| Err(RepositoryError::Unavailable("pool timed out".into())));
        assert!(matches!(
            service(posts).get(PostId::new(1).unwrap()),
            Err(DomainError::Unavailable(_))
        ));
    }

    #[test]
    fn only_the_author_updates_a_post() {
        let mut posts = MockPostRepository::new();
        posts.expect_find().returning(|_| Ok(Some(post(1, 7))));
        posts.expect_update().never();
        let result = service(posts).update(user_id(8), PostId::new(1).unwrap(), &changes());
        assert!(matches!(
            result,
            Err(DomainError::Forbidden(ForbiddenAction::EditPost))
        ));
    }

    #[test]
    fn editable_checks_existence_then_author() {
        let mut missing = MockPostRepository::new();
        missing.expect_find().returning(|_| Ok(None));
        let result = service(missing).editable(user_id(8), PostId::new(1).unwrap());
        assert!(matches!(result, Err(DomainError::NotFound(Resource::Post))));

        let mut foreign = MockPostRepository::new();
        foreign.expect_find().returning(|_| Ok(Some(post(1, 7))));
        let result = service(foreign).editable(user_id(8), PostId::new(1).unwrap());
        assert!(matches!(
            result,
            Err(DomainError::Forbidden(ForbiddenAction::EditPost))
        ));

        let mut own = MockPostRepository::new();
        own.expect_find().returning(|_| Ok(Some(post(1, 7))));
        own.expect_update().never();
        let result = service(own).editable(user_id(7), PostId::new(1).unwrap());
        assert_eq!(result.unwrap(), post(1, 7));
    }

    #[test]
    fn update_by_the_author_writes_scoped_to_the_author() {
        let mut posts = MockPostRepository::new();
        posts.expect_find().returning(|_| Ok(Some(post(1, 7))));
        posts
            .expect_update()
            .withf(|id, author, changes, at| {
                id.get() == 1 && *author == user_id(7) && changes.title.is_some() && *at == NOW
            })
            .times(1)
            .returning(|_, _, _, _| Ok(Some(post(1, 7))));
        assert!(
            service(posts)
                .update(user_id(7), PostId::new(1).unwrap(), &changes())
                .is_ok()
        );
    }

    #[test]
    fn update_that_loses_a_race_with_a_delete_is_not_found() {
        let mut posts = MockPostRepository::new();
        posts.expect_find().returning(|_| Ok(Some(post(1, 7))));
        posts.expect_update().returning(|_, _, _, _| Ok(None));
        let result = service(posts).update(user_id(7), PostId::new(1).unwrap(), &changes());
        assert!(matches!(result, Err(DomainError::NotFound(Resource::Post))));
    }

    #[test]
    fn only_the_author_deletes_a_post() {
        let mut posts = MockPostRepository::new();
        posts.expect_find().returning(|_| Ok(Some(post(1, 7))));
        posts.expect_delete().never();
        let result = service(posts).delete(user_id(8), PostId::new(1).unwrap());
        assert!(matches!(
            result,
            Err(DomainError::Forbidden(ForbiddenAction::DeletePost))
        ));
    }

    #[test]
    fn delete_by_the_author_removes_the_post() {
        let mut posts = MockPostRepository::new();
        posts.expect_find().returning(|_| Ok(Some(post(1, 7))));
        posts
            .expect_delete()
            .with(eq(PostId::new(1).unwrap()), eq(user_id(7)))
            .times(1)
            .returning(|_, _| Ok(true));
        assert!(
            service(posts)
                .delete(user_id(7), PostId::new(1).unwrap())
                .is_ok()
        );
    }

    #[test]
    fn delete_of_a_missing_post_is_not_found() {
        let mut posts = MockPostRepository::new();
        posts.expect_find().returning(|_| Ok(None));
        posts.expect_delete().never();
        let result = service(posts).delete(user_id(7), PostId::new(1).unwrap());
        assert!(matches!(result, Err(DomainError::NotFound(Resource::Post))));
    }
}
