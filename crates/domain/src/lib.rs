#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod auth;
mod error;
mod id;
mod page;
pub mod ports;
mod post;
mod session;
mod token;
mod user;

pub use auth::{AUTH_EVENTS, AuthPorts, AuthService, TokenLifetimes};
pub use error::{AuthError, BoxError, DomainError, ForbiddenAction, Resource, ValidationError};
pub use id::{PostId, SessionId, TokenId, UserId};
pub use page::{Page, PageRequest};
pub use post::{NewPost, Post, PostChanges, PostContent, PostService, PostTitle};
pub use session::Session;
pub use token::{Claims, Principal, TokenKind, TokenPair};
pub use user::{LoginAttempt, NewUser, Password, PasswordHash, User, UserCredentials, Username};

#[cfg(test)]
mod test_support;
