#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod auth;
mod error;
mod page;
pub mod ports;
mod post;
mod session;
mod token;
mod user;

pub use auth::{AUTH_EVENTS, AuthPorts, AuthService, TokenLifetimes};
pub use error::{AuthError, BoxError, DomainError, ForbiddenAction, Resource, ValidationError};
pub use page::{Page, PageRequest};
pub use post::{NewPost, Post, PostChanges, PostContent, PostId, PostService, PostTitle};
pub use session::{Session, SessionId};
pub use token::{Claims, Principal, TokenId, TokenKind, TokenPair};
pub use user::{
    LoginAttempt, NewUser, Password, PasswordHash, User, UserCredentials, UserId, Username,
};

#[cfg(test)]
mod test_support;
