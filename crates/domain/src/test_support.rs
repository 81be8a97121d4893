//! Fixtures shared by the unit tests.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::{
    Client, Post, PostContent, PostId, PostTitle, Session, SessionId, TokenId, UserAgent, UserId,
};

pub const NOW: OffsetDateTime = datetime!(2026-11-28 10:00:00 UTC);
pub const SESSION_TTL: Duration = Duration::days(7);

pub fn user_id(raw: i64) -> UserId {
    UserId::new(raw).unwrap()
}

/// Distinct valid random ids: `n` in hex, zero-padded.
pub fn session_id(n: u8) -> SessionId {
    SessionId::parse(format!("{n:032x}")).unwrap()
}

pub fn token_id(n: u8) -> TokenId {
    TokenId::parse(format!("{:032x}", u128::from(n) << 64)).unwrap()
}

/// A live session of `user` with id `session_id(1)` and refresh token `token_id(1)`.
pub fn session(user: i64) -> Session {
    Session {
        id: session_id(1),
        user_id: user_id(user),
        refresh_token_id: token_id(1),
        created_at: NOW,
        last_used_at: NOW,
        expires_at: NOW + SESSION_TTL,
        revoked_at: None,
        client: client(),
    }
}

/// The client of every request in the unit tests.
pub fn client() -> Client {
    Client {
        address: Some(std::net::IpAddr::from([192, 0, 2, 1])),
        user_agent: UserAgent::new("unit-test/1.0"),
    }
}

pub fn post(id: i64, author: i64) -> Post {
    Post {
        id: PostId::new(id).unwrap(),
        title: PostTitle::parse("Title").unwrap(),
        content: PostContent::parse("Content".into()).unwrap(),
        author_id: user_id(author),
        created_at: NOW,
        updated_at: NOW,
    }
}
