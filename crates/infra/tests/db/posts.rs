use blog_domain::ports::PostRepository;
use blog_domain::{NewPost, PageRequest, Post, PostChanges, PostContent, PostId, PostTitle, User};
use blog_infra::{DbPool, DieselPostRepository};
use time::Duration;

use crate::{NOW, create_user};

crate::on_both_backends!(
    a_created_post_reads_back_exactly,
    posts_are_listed_newest_first_and_filtered_by_author,
    update_changes_only_the_given_fields_of_the_authors_post,
    update_and_delete_are_scoped_to_the_author,
    delete_removes_the_post,
);

fn new_post(author: &User, title: &str, content: &str) -> NewPost {
    NewPost {
        title: PostTitle::parse(title).unwrap(),
        content: PostContent::parse(content.into()).unwrap(),
        author_id: author.id,
        created_at: NOW,
    }
}

fn create(pool: &DbPool, author: &User, title: &str) -> Post {
    DieselPostRepository::new(pool.clone())
        .create(&new_post(author, title, "content"))
        .unwrap()
}

fn a_created_post_reads_back_exactly(pool: &DbPool) {
    let repo = DieselPostRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let tricky = "Robert'); DROP TABLE posts;-- \u{1F600} \"quotes\" \\ \u{7f} \n\t 終わり";
    let post = repo.create(&new_post(&alice, "🎉 Title", tricky)).unwrap();
    assert_eq!(
        (post.content.as_str(), post.title.as_str(), post.author_id),
        (tricky, "🎉 Title", alice.id)
    );
    assert_eq!((post.created_at, post.updated_at), (NOW, NOW));
    assert_eq!(repo.find(post.id).unwrap(), Some(post));
}

fn posts_are_listed_newest_first_and_filtered_by_author(pool: &DbPool) {
    let repo = DieselPostRepository::new(pool.clone());
    let (alice, bob) = (create_user(pool, "alice"), create_user(pool, "bob"));
    for (author, title) in [(&alice, "a1"), (&bob, "b1"), (&alice, "a2"), (&alice, "a3")] {
        create(pool, author, title);
    }
    let titles = |author, page| {
        let page = repo.list(author, page).unwrap();
        (
            page.items
                .iter()
                .map(|p| p.title.as_str().to_owned())
                .collect::<Vec<_>>(),
            page.total,
        )
    };
    assert_eq!(
        titles(None, PageRequest::default()),
        (vec!["a3".into(), "a2".into(), "b1".into(), "a1".into()], 4)
    );
    assert_eq!(
        titles(Some(alice.id), PageRequest::new(Some(1), Some(2)).unwrap()),
        (vec!["a3".into(), "a2".into()], 3)
    );
    assert_eq!(
        titles(Some(bob.id), PageRequest::default()),
        (vec!["b1".into()], 1)
    );
}

fn update_changes_only_the_given_fields_of_the_authors_post(pool: &DbPool) {
    let repo = DieselPostRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let post = create(pool, &alice, "old");
    let later = NOW + Duration::minutes(5);
    let changes = PostChanges {
        title: Some(PostTitle::parse("new").unwrap()),
        content: None,
    };
    let updated = repo
        .update(post.id, alice.id, &changes, later)
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.title.as_str(), updated.content.as_str()),
        ("new", "content")
    );
    assert_eq!((updated.created_at, updated.updated_at), (NOW, later));
    // Nothing to change still stamps the update time.
    let touched = repo
        .update(
            post.id,
            alice.id,
            &PostChanges::default(),
            later + Duration::SECOND,
        )
        .unwrap();
    assert_eq!(
        touched.map(|p| p.updated_at),
        Some(later + Duration::SECOND)
    );
}

fn update_and_delete_are_scoped_to_the_author(pool: &DbPool) {
    let repo = DieselPostRepository::new(pool.clone());
    let (alice, bob) = (create_user(pool, "alice"), create_user(pool, "bob"));
    let post = create(pool, &alice, "mine");
    let changes = PostChanges {
        title: Some(PostTitle::parse("stolen").unwrap()),
        content: None,
    };
    assert_eq!(repo.update(post.id, bob.id, &changes, NOW).unwrap(), None);
    assert!(!repo.delete(post.id, bob.id).unwrap());
    assert_eq!(repo.find(post.id).unwrap(), Some(post));
}

fn delete_removes_the_post(pool: &DbPool) {
    let repo = DieselPostRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let post = create(pool, &alice, "bye");
    assert!(repo.delete(post.id, alice.id).unwrap());
    assert_eq!(repo.find(post.id).unwrap(), None);
    assert!(!repo.delete(post.id, alice.id).unwrap());
    assert_eq!(repo.find(PostId::new(999).unwrap()).unwrap(), None);
}
