//! `blog-api`: serve the API (the default), apply the migrations, or
//! administer users and the configuration.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use blog_api::configuration::{self, Profile, Settings};
use blog_api::error::error_chain;
use blog_api::startup::{self, Application};
use blog_api::telemetry;
use blog_domain::{Client, PageRequest, User, UserAgent, Username};
use blog_infra::keys;
use clap::{Parser, Subcommand};
use secrecy::SecretString;

/// The blog API: users, JWT sessions and posts over HTTP.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Create and list users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Delete expired sessions and second login steps, ended rate-limit
    /// windows and old security events once, then exit (the server also does
    /// it every `database.session_purge_interval_secs`).
    Purge,
    /// Make signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user; the password is read from the first line of standard
    /// input (never from an argument, which other users of the machine see).
    Create {
        /// The new user's name.
        #[arg(long)]
        username: String,
    },
    /// List users, oldest first, one a line: id, username, created_at.
    List {
        /// The page, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Users a page, 1 to 100.
        #[arg(long, default_value_t = 100)]
        per_page: u32,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new key pair with a fresh kid into DIR (a key set: every key
    /// in it verifies) and print, one `NAME=value` a line, the environment
    /// that serves with that key set and the new key signing:
    /// `env $(blog-api keys generate --dir keys) blog-api serve`.
    Generate {
        /// EdDSA (Ed25519, the default), ES256 or RS256.
        #[arg(long, default_value = "EdDSA")]
        alg: String,
        /// The key set directory; made (mode 0700) if missing.
        #[arg(long)]
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check every setting as `serve` would and print the effective
    /// configuration as JSON, secrets redacted; fails on a bad setting.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is fine; variables already set win over it.
    let _ = dotenvy::dotenv();
    let loaded =
        Profile::from_env().and_then(|profile| Ok((profile, configuration::load(profile)?)));
    let (profile, settings) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return fail(&format!("configuration error: {error}")),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let _logs = telemetry::init(&settings.log);
            serve(settings, profile)
        }
        Command::Migrate => {
            let _logs = telemetry::init(&settings.log);
            migrate(&settings)
        }
        // The admin commands print their result on stdout: no log there.
        Command::Purge => purge(&settings, profile),
        Command::Users { command } => users(command, &settings, profile),
        Command::Keys {
            command: KeysCommand::Generate { alg, dir },
        } => generate_key(&alg, &dir),
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(&settings, profile),
    }
}

fn serve(settings: Settings, profile: Profile) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, profile)
            .await
            .map_err(|error| format!("cannot start: {}", error_chain(&error)))?;
        tracing::info!(port = app.port(), profile = profile.as_str(), "listening");
        app.run_until_stopped()
            .await
            .map_err(|error| format!("server failed: {}", error_chain(&error)))
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

fn migrate(settings: &Settings) -> ExitCode {
    match startup::migrate(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("migration failed: {}", error_chain(&error))),
    }
}

fn users(command: UsersCommand, settings: &Settings, profile: Profile) -> ExitCode {
    let users = match startup::user_service(settings, profile) {
        Ok(users) => users,
        Err(error) => {
            return fail(&format!(
                "cannot open the database: {}",
                error_chain(&error)
            ));
        }
    };
    match command {
        UsersCommand::Create { username } => {
            let mut password = String::new();
            if std::io::stdin().lock().read_line(&mut password).is_err() {
                return fail("could not read the password from standard input");
            }
            let password = SecretString::from(password.trim_end_matches(['\r', '\n']));
            let created = Username::parse(username)
                .map_err(blog_domain::DomainError::from)
                .and_then(|username| users.register(username, password, &cli_client()));
            match created {
                Ok(user) => print_lines(&[user_line(&user)]),
                Err(error) => fail(&format!("cannot create the user: {}", error_chain(&error))),
            }
        }
        UsersCommand::List { page, per_page } => {
            let listed = PageRequest::new(Some(page), Some(per_page))
                .map_err(blog_domain::DomainError::from)
                .and_then(|page| users.list(page));
            match listed {
                Ok(page) => print_lines(&page.items.iter().map(user_line).collect::<Vec<_>>()),
                Err(error) => fail(&format!("cannot list users: {}", error_chain(&error))),
            }
        }
    }
}

/// The CLI as the client of the events it causes: no address, a name.
fn cli_client() -> Client {
    Client {
        address: None,
        user_agent: UserAgent::new(concat!("blog-api/", env!("CARGO_PKG_VERSION"), " (cli)")),
    }
}

/// A user as a line: id, username and creation time, tab-separated.
fn user_line(user: &User) -> String {
    let created = user
        .created_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!("{}\t{}\t{created}", user.id, user.username.as_str())
}

fn purge(settings: &Settings, profile: Profile) -> ExitCode {
    match startup::purge(settings, profile) {
        Ok(Some(report)) => print_lines(&[format!(
            "purged {} expired sessions, {} ended rate-limit windows and {} old security events",
            report.sessions, report.rate_limit_windows, report.security_events
        )]),
        Ok(None) => print_lines(&["another instance is purging: nothing done".to_owned()]),
        Err(error) => fail(&format!("purge failed: {}", error_chain(&error))),
    }
}

fn generate_key(algorithm: &str, dir: &std::path::Path) -> ExitCode {
    let generated = algorithm.parse().and_then(|algorithm| {
        let kid = keys::generate_key(dir, algorithm)?;
        let dir = std::fs::canonicalize(dir).map_err(|source| keys::KeySetError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok((kid, dir))
    });
    match generated {
        Ok((kid, dir)) => print_lines(&[
            format!("APP__JWT__KEYS_DIR={}", dir.display()),
            format!("APP__JWT__SIGNING_KEY={kid}"),
        ]),
        Err(error) => fail(&format!("cannot generate a key: {error}")),
    }
}

fn config_check(settings: &Settings, profile: Profile) -> ExitCode {
    if let Err(error) = startup::check_settings(settings, profile) {
        return fail(&format!("invalid configuration: {}", error_chain(&error)));
    }
    match serde_json::to_string_pretty(&serde_json::json!({
        "profile": profile.as_str(),
        "settings": settings,
    })) {
        Ok(text) => print_lines(&[text]),
        Err(error) => fail(&format!("cannot print the configuration: {error}")),
    }
}

/// Lines on stdout: the result of an admin command.
fn print_lines(lines: &[String]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        if writeln!(stdout, "{line}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// One clear line on stderr, with the whole cause, and a failure code.
/// The log gets no copy: it may not be set up yet, and the line is the same.
fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "blog-api: {message}");
    ExitCode::FAILURE
}
