//! Logs: `tracing` with an `EnvFilter`, pretty or JSON, to stdout.

use std::io::{BufWriter, IsTerminal};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::client::client_address;
use crate::configuration::{LogFormat, LogSettings};
use crate::metrics::AuthEventMetrics;

/// Keeps the log writer's thread running; dropping it writes out what is
/// still queued. Hold it until the process ends.
#[must_use = "logs stop when the guard is dropped"]
pub struct LogGuard {
    _writer: WorkerGuard,
}

/// Installs the global subscriber: logs filtered by the settings (`RUST_LOG`
/// wins), and the authentication-event metrics whatever the log filter
/// keeps. A second call (tests) leaves the first subscriber in place.
///
/// Lines are formatted where they happen and written to stdout by a thread
/// of the writer's own, in batches (one write for all the lines waiting):
/// a write to stdout per request line cost the request workers more than
/// the rest of a small request. Nothing is dropped: when the queue is full,
/// the logging thread waits.
pub fn init(settings: &LogSettings) -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let auth_events = AuthEventMetrics.with_filter(filter_fn(|metadata| {
        metadata.target() == blog_domain::AUTH_EVENTS
    }));
    let (stdout, guard) = NonBlockingBuilder::default()
        .lossy(false)
        // About 6 MB of lines at most (the default, 128,000, is 90 MB).
        .buffered_lines_limit(8192)
        .thread_name("log-writer")
        .finish(BufWriter::new(std::io::stdout()));
    // A line when each request's span closes: method, route, status, time.
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(stdout)
        .with_span_events(FmtSpan::CLOSE);
    let registry = tracing_subscriber::registry().with(auth_events);
    let _already_set = match settings.format {
        LogFormat::Json => registry
            .with(
                logs.json()
                    .flatten_event(true)
                    .with_current_span(true)
                    // The request's span is already there, under "span".
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init(),
        // Colour codes only for a person at a terminal, never into a file.
        LogFormat::Pretty => registry
            .with(
                logs.with_ansi(std::io::stdout().is_terminal())
                    .with_filter(filter),
            )
            .try_init(),
    };
    LogGuard { _writer: guard }
}

/// The span of each request: method, route template, path without its query
/// (a token put in `?access_token=` never reaches the log), the client
/// address as the trusted proxies decide it (not as the client claims),
/// the user agent with control characters escaped, and the user id once
/// the access token is checked.
pub struct RequestSpan;

/// Longest user agent logged.
const MAX_USER_AGENT_CHARS: usize = 256;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let client_ip = client_address(request.request());
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .map(|value| escaped(&String::from_utf8_lossy(value.as_bytes())))
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.path = %escaped(request.path()),
            http.client_ip = %client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            http.user_agent = %user_agent,
            http.status_code = Empty,
            otel.status_code = Empty,
            request_id = %request_id,
            user_id = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Client text made safe for a log line: control characters escaped, and
/// cut to a bounded length.
fn escaped(text: &str) -> String {
    let mut safe = String::with_capacity(text.len().min(MAX_USER_AGENT_CHARS));
    for c in text.chars().take(MAX_USER_AGENT_CHARS) {
        if c.is_control() {
            safe.extend(c.escape_debug());
        } else {
            safe.push(c);
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escaped("curl/8.0 \u{1b}[31mred\r\n"),
            "curl/8.0 \\u{1b}[31mred\\r\\n"
        );
        assert_eq!(escaped("Mozilla/5.0 \"été\""), "Mozilla/5.0 \"été\"");
        assert_eq!(escaped(&"x".repeat(1000)).len(), MAX_USER_AGENT_CHARS);
        assert_eq!(escaped("a\u{7f}b"), "a\\u{7f}b");
    }
}
