//! Turns `BLOG_TEST_POSTGRES_URL` into the `blog_postgres_tests` cfg, so that
//! `blog_infra::backend_matrix!` marks the PostgreSQL tests ignored, not
//! passed, where no server was named.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(blog_postgres_tests)");
    println!("cargo::rerun-if-env-changed=BLOG_TEST_POSTGRES_URL");
    if std::env::var_os("BLOG_TEST_POSTGRES_URL").is_some() {
        println!("cargo::rustc-cfg=blog_postgres_tests");
    }
}
