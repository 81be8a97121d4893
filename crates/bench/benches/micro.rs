//! Micro-benchmarks of the pieces a request is made of: signing and
//! verifying tokens (each algorithm), the password hasher, and the
//! repository calls of the hot paths on SQLite (and on PostgreSQL when
//! `BLOG_TEST_POSTGRES_URL` is set). `cargo bench -p blog_bench`.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark that cannot set itself up should stop at once"
)]

use std::sync::Arc;
use std::time::Duration;

use blog_domain::ports::{PasswordHasher, PostRepository, TokenCodec};
use blog_domain::secrecy::SecretString;
use blog_domain::testing::block_on;
use blog_domain::time::OffsetDateTime;
use blog_domain::{
    Claims, NewPost, PageRequest, PostContent, PostId, PostTitle, SessionId, TokenId, TokenKind,
    UserId,
};
use blog_infra::keys::{KeyAlgorithm, KeySet, generate_key};
use blog_infra::testing::{TestBackend, TestDatabase};
use blog_infra::{
    BcryptHasher, DieselPostRepository, JwtCodec, JwtKeys, JwtOptions, PoolOptions, db,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn claims() -> Claims {
    let now = OffsetDateTime::now_utc();
    Claims {
        user_id: UserId::new(1).unwrap(),
        session_id: SessionId::parse("0123456789abcdef0123456789abcdef").unwrap(),
        token_id: TokenId::parse("fedcba9876543210fedcba9876543210").unwrap(),
        kind: TokenKind::Access,
        issued_at: now,
        expires_at: now + Duration::from_secs(3600),
    }
}

fn codec(keys: JwtKeys) -> JwtCodec {
    JwtCodec::new(JwtOptions {
        keys,
        issuer: "blog-api".into(),
        audience: "blog-api".into(),
        leeway_secs: 5,
    })
    .unwrap()
}

fn tokens(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut codecs = vec![(
        "HS256",
        codec(JwtKeys::Hmac {
            current: SecretString::from("a benchmark secret of thirty-two bytes or more"),
            previous: Vec::new(),
        }),
    )];
    for (name, algorithm) in [
        ("EdDSA", KeyAlgorithm::EdDsa),
        ("ES256", KeyAlgorithm::Es256),
        ("RS256", KeyAlgorithm::Rs256),
    ] {
        let kid = generate_key(dir.path(), algorithm).unwrap();
        let keys = KeySet::load(dir.path(), &kid).unwrap();
        codecs.push((name, codec(JwtKeys::KeySet(keys))));
    }
    let claims = claims();
    let mut group = c.benchmark_group("token");
    for (name, codec) in &codecs {
        group.bench_function(format!("sign {name}"), |b| {
            b.iter(|| codec.encode(&claims).unwrap());
        });
        let token = codec.encode(&claims).unwrap();
        let now = OffsetDateTime::now_utc();
        group.bench_function(format!("verify {name}"), |b| {
            b.iter(|| codec.decode(&token, now).unwrap());
        });
    }
    group.finish();
}

fn hasher(c: &mut Criterion) {
    let mut group = c.benchmark_group("bcrypt");
    group.sample_size(10);
    for cost in [4, 10, 12] {
        let hasher = BcryptHasher::new(cost).unwrap();
        let hash = hasher.hash("correct horse battery staple").unwrap();
        group.bench_function(format!("verify cost {cost}"), |b| {
            b.iter(|| {
                hasher
                    .verify("correct horse battery staple", &hash)
                    .unwrap()
            });
        });
    }
    group.finish();
}

fn repositories(c: &mut Criterion) {
    let mut backends = vec![TestBackend::Sqlite];
    if std::env::var_os("BLOG_TEST_POSTGRES_URL").is_some() {
        backends.push(TestBackend::Postgres);
    }
    for backend in backends {
        let database = TestDatabase::new(backend);
        let pool = db::pool(
            &blog_infra::DatabaseUrl::parse(database.url()).unwrap(),
            &PoolOptions {
                max_size: 4,
                connection_timeout: Duration::from_secs(5),
            },
        );
        db::run_migrations(&pool).unwrap();
        let author = seed_user(&pool);
        let posts = Arc::new(DieselPostRepository::new(pool));
        let new_post = NewPost {
            author_id: author,
            title: PostTitle::parse("Hello").unwrap(),
            content: PostContent::parse("A post of the benchmark.".into()).unwrap(),
            created_at: OffsetDateTime::now_utc(),
        };
        for _ in 0..20 {
            block_on(posts.create(&new_post)).unwrap();
        }
        let mut group = c.benchmark_group(format!("posts {backend:?}"));
        group.bench_function("find", |b| {
            b.iter(|| posts.find(PostId::new(1).unwrap()).unwrap());
        });
        group.bench_function("list 20 of an author", |b| {
            b.iter(|| posts.list(Some(author), PageRequest::default()).unwrap());
        });
        // One writer at a time here: the cost of one commit, no grouping.
        group.bench_function("create", |b| {
            b.iter_batched(
                || new_post.clone(),
                |post| block_on(posts.create(&post)).unwrap(),
                BatchSize::SmallInput,
            );
        });
        group.finish();
    }
}

/// A user to write posts as, straight into the table.
fn seed_user(pool: &blog_infra::DbPool) -> UserId {
    use blog_domain::ports::UserRepository;
    use blog_domain::{Client, NewUser, PasswordHash, SecurityEvent, SecurityEventKind, Username};
    let users = blog_infra::DieselUserRepository::new(pool.clone());
    let now = OffsetDateTime::now_utc();
    let user = users
        .create(
            &NewUser {
                username: Username::parse("bench").unwrap(),
                password_hash: Some(PasswordHash::new("not a real hash".into())),
                created_at: now,
            },
            &SecurityEvent {
                kind: SecurityEventKind::Registered,
                user_id: None,
                session_id: None,
                client: Client::default(),
                provider: None,
                at: now,
            },
        )
        .unwrap();
    user.id
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = tokens, hasher, repositories
}
criterion_main!(benches);
