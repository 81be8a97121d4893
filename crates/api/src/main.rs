//! `blog-api`: serve the API (the default) or apply the migrations.

use std::process::ExitCode;

use blog_api::configuration::{self, Profile, Settings};
use blog_api::error::error_chain;
use blog_api::startup::{self, Application};
use blog_api::telemetry;
use clap::{Parser, Subcommand};

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
    telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings, profile),
        Command::Migrate => migrate(&settings),
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

/// One clear line on stderr, with the whole cause, and a failure code.
/// The log gets no copy: it may not be set up yet, and the line is the same.
fn fail(message: &str) -> ExitCode {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "blog-api: {message}");
    ExitCode::FAILURE
}
