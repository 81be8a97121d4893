# Recipes for working on the blog API. The README's commands need no `just`.

# List the recipes.
default:
    just --list

# Serve on 127.0.0.1:8080 with the embedded SQLite database.
run:
    cargo run --release

# Run every test (PostgreSQL ones too when BLOG_TEST_POSTGRES_URL is set).
test:
    cargo test

# Run every test against the local PostgreSQL as well.
test-all:
    BLOG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test

# Formatting, lints and docs, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --all-targets -- -D warnings
    cargo clippy -p blog_domain --all-targets --all-features -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features

# Apply pending migrations to DATABASE_URL (or the configured database).
migrate:
    cargo run --release -- migrate

# What CI runs.
ci:
    bash .ci/run

# Fuzz a release server with Schemathesis over its OpenAPI document.
fuzz:
    cargo build --release --bin blog-api
    .ci/fuzz target/release/blog-api 150

# Render /docs/ in headless Chromium; refresh the README's screenshot.
docs-page:
    cargo build --bin blog-api
    .ci/docs-page target/debug/blog-api docs/images/docs.png

# Measure the release server against the no-database baseline (wrk, medians
# of 3) and write docs/benchmarks.md; BENCH_DURATION, BENCH_RUNS tune it.
bench:
    crates/bench/run
