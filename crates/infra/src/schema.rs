//! The tables, as both migrations create them.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    posts (id) {
        id -> BigInt,
        user_id -> BigInt,
        title -> Text,
        content -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        refresh_token_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    /// Kept by triggers: see the migration `count_posts`.
    post_counts (user_id, slot) {
        user_id -> BigInt,
        slot -> SmallInt,
        total -> BigInt,
    }
}

diesel::joinable!(posts -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, posts, sessions);

diesel::table! {
    rate_limits (key) {
        key -> Text,
        window_start -> BigInt,
        hits -> BigInt,
    }
}

diesel::table! {
    security_events (id) {
        id -> BigInt,
        kind -> Text,
        user_id -> Nullable<BigInt>,
        session_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        at -> Timestamp,
        provider -> Nullable<Text>,
    }
}

diesel::joinable!(security_events -> users (user_id));

diesel::table! {
    totp_credentials (user_id) {
        user_id -> BigInt,
        sealed -> Text,
        active -> Bool,
        last_step -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mfa_challenges (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        expires_at -> Timestamp,
        failures -> Integer,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_identities (provider, subject) {
        provider -> Text,
        subject -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(user_identities -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, user_identities);

diesel::table! {
    pending_logins (state_hash) {
        state_hash -> Text,
        provider -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        expires_at -> Timestamp,
    }
}
