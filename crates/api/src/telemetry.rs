//! Logs: `tracing` with an `EnvFilter`, pretty or JSON, to stdout.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::configuration::{LogFormat, LogSettings};

/// Installs the global subscriber; `RUST_LOG` wins over the settings' filter.
/// A second call (tests) leaves the first subscriber in place.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    // A line when each request's span closes: method, route, status, time.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE);
    let _already_set = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
