//! The `blog-api` binary: subcommands, refusing a weak secret in production,
//! and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_blog-api");
const CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config");

/// The binary in an empty folder, with a clean environment.
fn blog_api(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir)
        .env_clear()
        .env("APP_CONFIG_DIR", CONFIG_DIR)
        .env("PORT", "0")
        .env("APP__ADMIN__METRICS_ADDRESS", "127.0.0.1:0");
    command.env("DATABASE_URL", dir.join("blog.db"));
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let output = blog_api(dir.path(), &[]).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(text.contains("serve") && text.contains("migrate"), "{text}");
}

#[test]
fn migrate_applies_the_migrations_and_can_run_again() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        migrate(dir.path(), &[("APP_ENV", "production")]);
    }
    assert!(dir.path().join("blog.db").is_file());
}

#[test]
fn production_refuses_to_start_with_a_missing_short_or_default_secret() {
    let dir = tempfile::tempdir().unwrap();
    for secret in [
        None,
        Some("short-secret"),
        Some("your-256-bit-secret-which-is-long-enough"),
    ] {
        let mut command = blog_api(dir.path(), &[("APP_ENV", "production")]);
        if let Some(secret) = secret {
            command.env("JWT_SECRET_KEY", secret);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{secret:?}");
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "one clear line: {text}");
        assert!(text.contains("JWT_SECRET_KEY"), "{text}");
        assert!(
            !text.contains(secret.unwrap_or("\u{0}")),
            "the secret is never printed: {text}"
        );
    }
}

#[test]
fn a_dot_env_file_in_the_working_directory_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "APP_ENV=staging\n").unwrap();
    let output = blog_api(dir.path(), &[]).output().unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("\"staging\""),
        "{}",
        stderr(&output)
    );
    // Variables already set win over the file.
    migrate(dir.path(), &[("APP_ENV", "production")]);
}

#[test]
fn an_unknown_profile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = blog_api(dir.path(), &[("APP_ENV", "staging")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("APP_ENV"), "{}", stderr(&output));
}

/// A bare HTTP/1.1 exchange; returns the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    try_http(port, method, path, token, body).unwrap()
}

/// As [`http`]; `None` when the connection fails or ends before an answer.
fn try_http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Option<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1;
    Some((
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    ))
}

/// The binary serving in development on `dir`, with JSON logs on stdout.
struct Server {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    /// The log lines read so far.
    log: Vec<String>,
    port: u16,
}

impl Server {
    /// Starts it with `vars` set and waits for its `listening` line.
    fn start(dir: &Path, vars: &[(&str, &str)]) -> Self {
        let mut child = blog_api(dir, &[("APP__LOG__FORMAT", "json"), ("RUST_LOG", "info")])
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut log = Vec::new();
        let port = loop {
            let line = lines.next().unwrap().unwrap();
            log.push(line.clone());
            if line.contains("\"listening\"") {
                let event: serde_json::Value = serde_json::from_str(&line).unwrap();
                break u16::try_from(event["port"].as_u64().unwrap()).unwrap();
            }
        };
        Self {
            child,
            lines,
            log,
            port,
        }
    }
}

/// Registers and logs in alice; returns her access token.
fn access_token(port: u16) -> String {
    let credentials = r#"{"username": "alice", "password": "correct horse"}"#;
    assert_eq!(
        http(port, "POST", "/api/v1/users", None, credentials).0,
        201
    );
    let (status, pair) = http(port, "POST", "/api/v1/login", None, credentials);
    assert_eq!(status, 200);
    pair["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn acknowledged_writes_survive_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed secret: tokens must outlive the process for this test.
    let secret = [("JWT_SECRET_KEY", "q3Z8pL1xV7mN4bR9tY2wK6cJ0hF5gD3sx")];
    let mut server = Server::start(dir.path(), &secret);
    let token = access_token(server.port);
    let ids: Vec<i64> = (0..20)
        .map(|n| {
            let body = format!(r#"{{"title": "post {n}", "content": "must survive"}}"#);
            let (status, post) = http(server.port, "POST", "/api/v1/posts", Some(&token), &body);
            assert_eq!(status, 201);
            post["id"].as_i64().unwrap()
        })
        .collect();
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut restarted = Server::start(dir.path(), &secret);
    for id in ids {
        let (status, post) = http(
            restarted.port,
            "GET",
            &format!("/api/v1/posts/{id}"),
            None,
            "",
        );
        assert_eq!(
            (status, post["content"].as_str()),
            (200, Some("must survive"))
        );
    }
    assert_eq!(
        http(restarted.port, "GET", "/api/v1/users/me", Some(&token), "").0,
        200,
        "the session survived too"
    );
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

#[test]
fn concurrent_writes_acknowledged_before_a_kill_9_survive_it_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let secret = [("JWT_SECRET_KEY", "q3Z8pL1xV7mN4bR9tY2wK6cJ0hF5gD3sx")];
    let mut server = Server::start(dir.path(), &secret);
    let token = access_token(server.port);
    let mut acknowledged: Vec<i64> = Vec::new();
    for round in 0..3 {
        let port = server.port;
        // Eight writers at once (so the writer groups their commits), until
        // the server is killed under them.
        let written: Vec<i64> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..8)
                .map(|writer| {
                    let token = &token;
                    scope.spawn(move || {
                        let mut ids = Vec::new();
                        for n in 0.. {
                            let body = format!(
                                r#"{{"title": "{round}.{writer}.{n}", "content": "must survive"}}"#
                            );
                            match try_http(port, "POST", "/api/v1/posts", Some(token), &body) {
                                Some((201, post)) => ids.push(post["id"].as_i64().unwrap()),
                                _ => return ids,
                            }
                        }
                        ids
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(400));
            server.child.kill().unwrap();
            server.child.wait().unwrap();
            writers
                .into_iter()
                .flat_map(|writer| writer.join().unwrap())
                .collect()
        });
        assert!(written.len() > 8, "round {round}: {} writes", written.len());
        acknowledged.extend(written);

        server = Server::start(dir.path(), &secret);
        for id in &acknowledged {
            let (status, post) = http(server.port, "GET", &format!("/api/v1/posts/{id}"), None, "");
            assert_eq!(
                (status, post["content"].as_str()),
                (200, Some("must survive")),
                "post {id} was acknowledged, then lost"
            );
        }
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn development_serves_logs_auth_events_without_secrets_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let Server {
        mut child,
        lines,
        mut log,
        port,
    } = Server::start(dir.path(), &[]);
    assert!(
        log.iter()
            .any(|line| line.contains("JWT_SECRET_KEY is not set")),
        "development warns: {log:?}"
    );

    let password = "a very secret password";
    let credentials = format!(r#"{{"username": "alice", "password": "{password}"}}"#);
    assert_eq!(
        http(port, "POST", "/api/v1/users", None, &credentials).0,
        201
    );
    let (status, pair) = http(port, "POST", "/api/v1/login", None, &credentials);
    assert_eq!(status, 200);
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let (status, pair) = http(
        port,
        "POST",
        "/api/v1/refresh",
        None,
        &format!(r#"{{"refresh_token": "{refresh}"}}"#),
    );
    assert_eq!(status, 200);
    let access = pair["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        http(port, "POST", "/api/v1/logout", Some(&access), "{}").0,
        200
    );
    assert_eq!(
        http(
            port,
            "POST",
            "/api/v1/login",
            None,
            r#"{"username": "alice", "password": "wrong password"}"#
        )
        .0,
        401
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    log.extend(lines.map_while(Result::ok));
    assert!(child.wait().unwrap().success(), "{log:?}");
    assert!(
        log.iter().any(|line| line.contains("\"stopped\"")),
        "{log:?}"
    );

    // The access line of the logout: one JSON object with the request's fields.
    let logout = log
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["http.route"] == "/api/v1/logout")
        .unwrap_or_else(|| panic!("no access line of the logout: {log:?}"));
    assert_eq!(logout["target"], "blog::http", "{logout}");
    assert_eq!(logout["http.method"], "POST", "{logout}");
    assert_eq!(logout["http.status_code"], 200, "{logout}");
    assert_eq!(logout["user_id"], 1, "the authenticated user: {logout}");
    assert!(logout["latency_ms"].as_f64().is_some(), "{logout}");
    assert_eq!(
        logout["request_id"].as_str().map(str::len),
        Some(36),
        "a UUID: {logout}"
    );
    let log = log.join("\n");
    for event in [
        "registered",
        "login_succeeded",
        "refreshed",
        "logged_out",
        "login_failed",
    ] {
        let field = format!("\"event\":\"{event}\"");
        assert!(log.contains(&field), "no {event:?} event in {log}");
    }
    for secret in [password, refresh.as_str(), access.as_str(), "$2b$"] {
        assert!(!log.contains(secret), "{secret:?} leaked into the log");
    }
}

/// Runs `blog-api migrate` with `vars`; it must succeed.
fn migrate(dir: &Path, vars: &[(&str, &str)]) {
    let output = blog_api(dir, vars).arg("migrate").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A production secret that passes the check.
const STRONG_SECRET: (&str, &str) = ("JWT_SECRET_KEY", "q3Z8pL1xV7mN4bR9tY2wK6cJ0hF5gD3sx");

/// A production key for the TOTP secrets.
const MFA_KEY: (&str, &str) = (
    "APP__MFA__ENCRYPTION_KEY",
    "9c1f4b7e2a6d8053e1b9f7a2c4d6e8f01a3b5c7d9e0f2a4b6c8d0e2f4a6b8c0d",
);

/// Runs the binary to its end with `vars`; the start must fail with one
/// stderr line, which is returned.
fn refused_start(dir: &Path, vars: &[(&str, &str)]) -> String {
    let output = blog_api(dir, vars).output().unwrap();
    let text = stderr(&output);
    assert!(!output.status.success(), "started: {text}");
    assert_eq!(text.lines().count(), 1, "one clear line: {text}");
    text
}

#[test]
fn an_empty_in_memory_or_foreign_database_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        ("", "empty"),
        ("   ", "empty"),
        (":memory:", "in-memory"),
        ("sqlite://", "in-memory"),
        ("file::memory:?cache=shared", "in-memory"),
        ("mysql://root@127.0.0.1/blog", "\"mysql\""),
    ] {
        let text = refused_start(dir.path(), &[("DATABASE_URL", url)]);
        assert!(
            text.contains("DATABASE_URL") && text.contains(says),
            "{url:?}: {text}"
        );
    }
    // Never taken as a file name.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_seeds_sqlalchemy_url_names_a_file_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path(), &[("DATABASE_URL", "sqlite:///blog_dev.db")]);
    assert!(dir.path().join("blog_dev.db").is_file());
    // Four slashes: an absolute path.
    let absolute = format!("sqlite:///{}", dir.path().join("abs.db").display());
    migrate(dir.path(), &[("DATABASE_URL", &absolute)]);
    assert!(dir.path().join("abs.db").is_file());
}

#[test]
fn production_on_an_unmigrated_database_refuses_to_start_until_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let production = [("APP_ENV", "production"), STRONG_SECRET, MFA_KEY];
    let text = refused_start(dir.path(), &production);
    assert!(text.contains("blog-api migrate"), "{text}");
    migrate(dir.path(), &production);
    let mut server = Server::start(dir.path(), &production);
    assert_eq!(http(server.port, "GET", "/readyz", None, "").0, 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn a_database_that_cannot_be_opened_is_named_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    for (url, cause) in [
        ("postgres://postgres@127.0.0.1:1/none", "refused"),
        (
            "/nonexistent-folder/blog.db",
            "/nonexistent-folder/blog.db: Unable to open the database file",
        ),
    ] {
        let output = blog_api(
            dir.path(),
            &[
                ("DATABASE_URL", url),
                ("APP__DATABASE__CONNECT_TIMEOUT_SECS", "1"),
            ],
        )
        .output()
        .unwrap();
        assert!(!output.status.success());
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("could not connect to the database"), "{text}");
        assert_eq!(text.matches(cause).count(), 1, "{text}");
        let log = String::from_utf8_lossy(&output.stdout);
        assert!(
            !log.contains(cause),
            "the cause is not repeated in the log: {log}"
        );
    }
}

#[test]
fn a_stop_does_not_wait_for_a_body_that_never_comes() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[("APP__SERVER__BODY_TIMEOUT_SECS", "120")]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        .unwrap();
    // Let the server start reading the body.
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.child.wait().unwrap().success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the stop waited {:?}",
        started.elapsed()
    );
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(
        response.contains("\"code\":\"service_unavailable\""),
        "{response}"
    );
}

#[test]
fn logs_name_the_peer_not_a_forged_address_and_never_a_query_value() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let send = |port: u16, extra: &str| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET /api/v1/posts?access_token=SECRET-IN-QUERY HTTP/1.1\r\nHost: x\r\n\
             Connection: close\r\n{extra}\r\n"
        )
        .unwrap();
        stream.read_to_end(&mut Vec::new()).unwrap();
        // The request's log line follows the response.
        std::thread::sleep(Duration::from_millis(300));
    };
    let forged = "X-Forwarded-For: 203.0.113.66\r\nUser-Agent: evil\u{9b}31m\r\n";

    let Server {
        mut child,
        lines,
        mut log,
        port,
    } = Server::start(dir.path(), &[]);
    send(port, forged);
    child.kill().unwrap();
    child.wait().unwrap();
    log.extend(lines.map_while(Result::ok));
    let log = log.join("\n");
    assert!(log.contains("\"http.client_ip\":\"127.0.0.1\""), "{log}");
    assert!(log.contains("\"http.path\":\"/api/v1/posts\""), "{log}");
    assert!(log.contains("\"http.route\":\"/api/v1/posts\""), "{log}");
    assert!(
        log.contains("evil\\\\u{9b}31m"),
        "the agent is escaped: {log}"
    );
    for leak in ["203.0.113.66", "SECRET-IN-QUERY", "\u{9b}"] {
        assert!(!log.contains(leak), "{leak:?} in {log}");
    }

    // Behind a trusted proxy, its X-Forwarded-For names the client.
    let Server {
        mut child,
        lines,
        mut log,
        port,
    } = Server::start(
        dir.path(),
        &[("APP__SERVER__TRUSTED_PROXIES", "127.0.0.0/8")],
    );
    send(port, forged);
    child.kill().unwrap();
    child.wait().unwrap();
    log.extend(lines.map_while(Result::ok));
    let log = log.join("\n");
    assert!(log.contains("\"http.client_ip\":\"203.0.113.66\""), "{log}");
}

#[test]
fn pretty_logs_written_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = blog_api(
        dir.path(),
        &[("APP__LOG__FORMAT", "pretty"), ("RUST_LOG", "info")],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("listening"))
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!listening.contains('\u{1b}'), "{listening:?}");
}

/// Runs the binary with `args` and `stdin`; returns its output.
fn run(dir: &Path, vars: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = blog_api(dir, vars)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn users_are_created_with_a_password_from_stdin_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(
        dir.path(),
        &[],
        &["users", "create", "--username", "alice"],
        "correct horse\n",
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let line = String::from_utf8(created.stdout).unwrap();
    assert!(line.starts_with("1\talice\t20"), "{line}");
    run(
        dir.path(),
        &[],
        &["users", "create", "--username", "bob"],
        "battery staple\n",
    );

    let listed = run(dir.path(), &[], &["users", "list"], "");
    assert!(listed.status.success(), "{}", stderr(&listed));
    let names: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split('\t').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let second_page = run(
        dir.path(),
        &[],
        &["users", "list", "--page", "2", "--per-page", "1"],
        "",
    );
    assert_eq!(
        String::from_utf8(second_page.stdout)
            .unwrap()
            .lines()
            .count(),
        1
    );

    // The user logs in over HTTP with that password.
    let mut server = Server::start(dir.path(), &[]);
    let (status, _) = http(
        server.port,
        "POST",
        "/api/v1/login",
        None,
        r#"{"username": "alice", "password": "correct horse"}"#,
    );
    assert_eq!(status, 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn a_taken_name_or_a_weak_password_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let create = |name: &str, password: &str| {
        run(
            dir.path(),
            &[],
            &["users", "create", "--username", name],
            password,
        )
    };
    assert!(create("alice", "correct horse\n").status.success());
    for (output, says) in [
        (create("alice", "another password\n"), "already taken"),
        (create("bob", "short\n"), "8 to 72 bytes"),
        (create("no spaces", "correct horse\n"), "username"),
    ] {
        assert!(!output.status.success());
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(says), "{text}");
        assert!(output.stdout.is_empty());
    }
    let listed = run(dir.path(), &[], &["users", "list"], "");
    assert_eq!(String::from_utf8(listed.stdout).unwrap().lines().count(), 1);
}

#[test]
fn config_check_prints_the_settings_without_secrets_and_fails_on_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "q3Z8pL1xV7mN4bR9tY2wK6cJ0hF5gD3sx";
    let checked = run(
        dir.path(),
        &[
            ("APP_ENV", "production"),
            ("JWT_SECRET_KEY", secret),
            MFA_KEY,
            ("DATABASE_URL", "postgres://blog:hunter2@db:5432/blog"),
        ],
        &["config", "check"],
        "",
    );
    assert!(checked.status.success(), "{}", stderr(&checked));
    let printed: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(printed["profile"], "production");
    assert_eq!(printed["settings"]["jwt"]["secret"], "[redacted]");
    assert_eq!(printed["settings"]["mfa"]["encryption_key"], "[redacted]");
    assert_eq!(
        printed["settings"]["database"]["url"],
        "postgres://blog:[redacted]@db:5432/blog"
    );
    assert_eq!(printed["settings"]["server"]["host"], "0.0.0.0");
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(
        !text.contains(secret) && !text.contains("hunter2") && !text.contains(MFA_KEY.1),
        "{text}"
    );

    for (vars, says) in [
        (vec![("APP_ENV", "production")], "JWT_SECRET_KEY"),
        (
            vec![("APP_ENV", "production"), STRONG_SECRET],
            "APP__MFA__ENCRYPTION_KEY is not set",
        ),
        (
            vec![("APP__MFA__ENCRYPTION_KEY", "not-hex")],
            "64 hexadecimal digits",
        ),
        (vec![("APP__JWT__KEYS_DIR", "keys")], "go together"),
        (
            vec![
                ("APP_ENV", "production"),
                STRONG_SECRET,
                MFA_KEY,
                ("APP__JWT__PREVIOUS_SECRETS", "short-old-secret"),
            ],
            "APP__JWT__PREVIOUS_SECRETS",
        ),
        (
            vec![("APP__SERVER__TLS_CERTIFICATE", "cert.pem")],
            "go together",
        ),
        (
            vec![
                ("APP__SERVER__TLS_CERTIFICATE", "missing.pem"),
                ("APP__SERVER__TLS_PRIVATE_KEY", "missing-key.pem"),
            ],
            "server.tls_certificate missing.pem",
        ),
        (
            vec![
                ("APP__JWT__KEYS_DIR", "missing"),
                ("APP__JWT__SIGNING_KEY", "20261128-00"),
            ],
            "missing",
        ),
        (vec![("APP__DATABASE__POOL_SIZE", "0")], "pool_size"),
        (vec![("DATABASE_URL", "mysql://x")], "mysql"),
        (
            vec![("APP__SERVER__TRUSTED_PROXIES", "proxy.local")],
            "trusted_proxies",
        ),
    ] {
        let output = run(dir.path(), &vars, &["config", "check"], "");
        assert!(!output.status.success(), "{vars:?}");
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(says), "{text}");
    }
}

/// A config folder of the defaults and a `development.toml` of `extra`.
fn config_dir_with(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(CONFIG_DIR).join("default.toml"),
        dir.path().join("default.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("development.toml"), extra).unwrap();
    dir
}

const TWO_PROVIDERS: &str = r#"
[[oidc.providers]]
name = "google"
issuer = "https://accounts.google.com"
client_id = "blog.apps.googleusercontent.com"
client_secret = "google-client-secret"
redirect_uri = "https://blog.example.com/api/v1/oidc/google/callback"
scopes = ["profile", "email"]

[[oidc.providers]]
name = "local-idp"
issuer = "http://localhost:9000/realms/blog"
client_id = "blog"
client_secret = "local-client-secret"
redirect_uri = "http://localhost:8080/api/v1/oidc/local-idp/callback"
"#;

#[test]
fn identity_providers_are_tables_of_a_config_file_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_dir_with(TWO_PROVIDERS);
    let config_dir = config.path().to_str().unwrap();
    let checked = run(
        dir.path(),
        &[("APP_CONFIG_DIR", config_dir)],
        &["config", "check"],
        "",
    );
    assert!(checked.status.success(), "{}", stderr(&checked));
    let printed: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    let providers = &printed["settings"]["oidc"]["providers"];
    assert_eq!(providers[0]["name"], "google");
    assert_eq!(
        providers[0]["scopes"],
        serde_json::json!(["profile", "email"])
    );
    assert_eq!(providers[1]["name"], "local-idp");
    assert_eq!(providers[1]["scopes"], serde_json::json!([]));
    assert_eq!(providers[1]["client_secret"], "[redacted]");
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(!text.contains("client-secret\""), "{text}");

    for (extra, says) in [
        (
            TWO_PROVIDERS.replace("https://accounts.google.com", "http://accounts.google.com"),
            "google: issuer must be an https URL",
        ),
        (
            TWO_PROVIDERS.replace("local-idp", "google"),
            "google is configured twice",
        ),
        (
            TWO_PROVIDERS.replace("local-idp", "Local IdP"),
            "oidc.providers name",
        ),
        ("[oidc]\ntimeout_secs = 0\n".to_owned(), "oidc.timeout_secs"),
    ] {
        let config = config_dir_with(&extra);
        let output = run(
            dir.path(),
            &[("APP_CONFIG_DIR", config.path().to_str().unwrap())],
            &["config", "check"],
            "",
        );
        assert!(!output.status.success(), "{extra}");
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(says), "{text}");
    }
}

#[test]
fn every_command_has_help_and_the_binary_a_version() {
    let dir = tempfile::tempdir().unwrap();
    for (args, mentions) in [
        (&["--version"][..], env!("CARGO_PKG_VERSION")),
        (&["users", "--help"], "create"),
        (&["users", "create", "--help"], "--username"),
        (&["users", "list", "--help"], "--per-page"),
        (&["config", "--help"], "check"),
        (&["config", "check", "--help"], "redacted"),
        (&["serve", "--help"], "Serve"),
        (&["migrate", "--help"], "migrations"),
        (&["purge", "--help"], "expired sessions"),
    ] {
        let output = run(dir.path(), &[], args, "");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{args:?}");
        assert!(text.contains(mentions), "{args:?}: {text}");
    }
}

#[test]
fn purge_deletes_expired_sessions_once_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    // Sessions of one second, so that they expire during the test.
    let short = [
        ("JWT_ACCESS_TOKEN_EXPIRES", "1"),
        ("JWT_REFRESH_TOKEN_EXPIRES", "1"),
        ("JWT_SECRET_KEY", "q3Z8pL1xV7mN4bR9tY2wK6cJ0hF5gD3sx"),
    ];
    let mut server = Server::start(dir.path(), &short);
    access_token(server.port);
    let credentials = r#"{"username": "alice", "password": "correct horse"}"#;
    assert_eq!(
        http(server.port, "POST", "/api/v1/login", None, credentials).0,
        200
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(2100));

    let purged = run(dir.path(), &short, &["purge"], "");
    assert!(purged.status.success(), "{}", stderr(&purged));
    assert_eq!(
        String::from_utf8(purged.stdout).unwrap().trim(),
        "purged 2 expired sessions, 0 ended rate-limit windows and 0 old security events"
    );
    let again = run(dir.path(), &short, &["purge"], "");
    assert!(
        String::from_utf8(again.stdout)
            .unwrap()
            .contains("purged 0 expired sessions")
    );
}

#[test]
fn keys_generate_prints_the_environment_that_serves_with_the_new_key_signing() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |alg: &str| {
        let output = run(
            dir.path(),
            &[],
            &["keys", "generate", "--alg", alg, "--dir", "keys"],
            "",
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let text = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<(String, String)> = text
            .lines()
            .map(|line| {
                let (name, value) = line.split_once('=').unwrap();
                (name.to_owned(), value.to_owned())
            })
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0].0, "APP__JWT__KEYS_DIR");
        assert_eq!(lines[1].0, "APP__JWT__SIGNING_KEY");
        lines
    };
    let first = generate("EdDSA");
    let second = generate("ES256");
    assert_eq!(first[0], second[0], "the same key set");
    assert_ne!(first[1], second[1], "a fresh kid");
    let refused = run(
        dir.path(),
        &[],
        &["keys", "generate", "--alg", "HS256", "--dir", "keys"],
        "",
    );
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("EdDSA, ES256 or RS256"));

    let vars: Vec<(&str, &str)> = second
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let mut production = vars.clone();
    production.extend([("APP_ENV", "production"), MFA_KEY]);
    let checked = run(dir.path(), &production, &["config", "check"], "");
    assert!(
        checked.status.success(),
        "a key set stands in for JWT_SECRET_KEY: {}",
        stderr(&checked)
    );
    let mut server = Server::start(dir.path(), &vars);
    let (status, jwks) = http(server.port, "GET", "/.well-known/jwks.json", None, "");
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");
    let credentials = r#"{"username": "alice", "password": "correct horse"}"#;
    assert_eq!(
        http(server.port, "POST", "/api/v1/users", None, credentials).0,
        201
    );
    let (status, pair) = http(server.port, "POST", "/api/v1/login", None, credentials);
    assert_eq!(status, 200);
    let access = pair["access_token"].as_str().unwrap();
    let header: serde_json::Value = {
        use base64::Engine;
        let part = access.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["kid"], second[1].1.as_str());
    assert_eq!(header["alg"], "ES256");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
