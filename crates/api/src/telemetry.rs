//! Logs: `tracing` with an `EnvFilter`, pretty or JSON, to stdout.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{BufWriter, IsTerminal, Write as _};
use std::marker::PhantomData;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpRequest};
use blog_domain::UserId;
use futures_util::FutureExt;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer as _};
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Instrument, Subscriber};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_log::NormalizeEvent;
use tracing_serde::SerdeMapVisitor;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::util::SubscriberInitExt;
use uuid::Uuid;

use crate::client::client_address;
use crate::configuration::{LogFormat, LogSettings};
use crate::metrics::{self, AuthEventMetrics};

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
    let logs = tracing_subscriber::fmt::layer().with_writer(stdout);
    let registry = tracing_subscriber::registry().with(auth_events);
    let _already_set = match settings.format {
        LogFormat::Json => registry
            .with(
                logs.fmt_fields(JsonSpanFields)
                    .event_format(JsonLines)
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

/// The lines of tracing-subscriber's own JSON format, configured as
/// `json().flatten_event(true).with_current_span(true).with_span_list(false)`,
/// byte for byte (a test compares them): timestamp, level, the event's
/// fields, target, and the current span's fields and name under "span"
/// (the request's id, for lines logged while a request runs). Each line is
/// serialized into a buffer of its own and written at once: that format
/// writes through an adaptor that checks every small piece (a quote, a
/// key) as UTF-8 on its way into the line, which was most of what an access
/// line cost: a tenth of the instructions of a small read (callgrind).
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let written = line_timestamp(std::time::SystemTime::now());
        let mut timestamp = String::new();
        let timestamp = match &written {
            Some(written) => std::str::from_utf8(written).map_err(|_| std::fmt::Error)?,
            None => {
                SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
                &timestamp
            }
        };
        // A `log` record's own target and level, not the bridge's.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let span = event
            .parent()
            .and_then(|id| context.span(id))
            .or_else(|| context.lookup_current());
        let mut line = Vec::with_capacity(512);
        let mut serializer = serde_json::Serializer::new(&mut line);
        let serialized = (|| {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("timestamp", &timestamp)?;
            map.serialize_entry("level", metadata.level().as_str())?;
            let mut fields = SerdeMapVisitor::new(map);
            event.record(&mut fields);
            let mut map = fields.take_serializer()?;
            map.serialize_entry("target", metadata.target())?;
            if let Some(span) = &span {
                map.serialize_entry("span", &SpanFields::<S, N>(span, PhantomData))?;
            }
            map.end()
        })();
        serialized.map_err(|_| std::fmt::Error)?;
        writer.write_str(std::str::from_utf8(&line).map_err(|_| std::fmt::Error)?)?;
        writeln!(writer)
    }
}

/// The first second whose year has five digits, 10000-01-01T00:00:00Z.
const YEAR_10000: u64 = 253_402_300_800;

/// `at` as tracing-subscriber's `SystemTime` writes a line's timestamp:
/// UTC to the microsecond, `2026-12-04T21:24:19.123456Z`; `None` before
/// 1970 and from the year 10000, left to it. Its `Display` of padded
/// numbers cost about 3,400 instructions a line, a twentieth of a 401
/// (callgrind). The part up to the second changes once a second: each
/// thread keeps the last one written and adds the microseconds.
fn line_timestamp(at: std::time::SystemTime) -> Option<[u8; 27]> {
    thread_local! {
        static SECOND: Cell<Option<(u64, [u8; 20])>> = const { Cell::new(None) };
    }
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    let second = since_epoch.as_secs();
    if second >= YEAR_10000 {
        return None;
    }
    let prefix = match SECOND.get() {
        Some((cached, prefix)) if cached == second => prefix,
        _ => {
            let utc = time::OffsetDateTime::from(at);
            let mut prefix = [0; 20];
            write!(
                &mut prefix[..],
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
                utc.year(),
                u8::from(utc.month()),
                utc.day(),
                utc.hour(),
                utc.minute(),
                utc.second()
            )
            .ok()?;
            SECOND.set(Some((second, prefix)));
            prefix
        }
    };
    let mut line = [0; 27];
    line[..20].copy_from_slice(&prefix);
    let mut micros = since_epoch.subsec_micros();
    for digit in line[20..26].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    line[26] = b'Z';
    Some(line)
}

/// A span's fields, as the JSON field formatter stored them, and its name.
struct SpanFields<'a, 'b, S: for<'l> LookupSpan<'l>, N>(&'b SpanRef<'a, S>, PhantomData<fn(N)>);

impl<S, N> Serialize for SpanFields<'_, '_, S, N>
where
    S: for<'l> LookupSpan<'l>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn serialize<Z: serde::Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut map = serializer.serialize_map(None)?;
        let extensions = self.0.extensions();
        let stored = extensions.get::<FormattedFields<N>>();
        if let Some(Ok(serde_json::Value::Object(fields))) =
            stored.map(|fields| serde_json::from_str(fields))
        {
            for (name, value) in fields {
                map.serialize_entry(&name, &value)?;
            }
        }
        map.serialize_entry("name", self.0.metadata().name())?;
        map.end()
    }
}

/// A span's fields as one JSON object, the text that [`SpanFields`]
/// reads back: each field serialized as it is recorded. tracing-subscriber's
/// `JsonFields` first builds a map of JSON values and then writes it out,
/// which cost about 3,500 instructions for the one field of every request's
/// span (callgrind), a twentieth of a small read. The names are those
/// `JsonFields` writes; [`SpanFields`] reads the object into a sorted map,
/// so the lines are the same (a test compares them).
struct JsonSpanFields;

impl<'w> FormatFields<'w> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut object = Vec::with_capacity(64);
        let mut serializer = serde_json::Serializer::new(&mut object);
        let map = serializer
            .serialize_map(None)
            .map_err(|_| std::fmt::Error)?;
        let mut visitor = FieldWriter {
            map,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        let FieldWriter { map, result } = visitor;
        result
            .and_then(|()| map.end())
            .map_err(|_| std::fmt::Error)?;
        writer.write_str(std::str::from_utf8(&object).map_err(|_| std::fmt::Error)?)
    }

    /// Fields recorded after the span opened (rare): merged into its object.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> std::fmt::Result {
        let mut added = String::new();
        self.format_fields(Writer::new(&mut added), fields)?;
        if current.fields.is_empty() {
            current.fields = added;
            return Ok(());
        }
        let object = |text: &str| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
                .map_err(|_| std::fmt::Error)
        };
        let mut merged = object(&current.fields)?;
        merged.extend(object(&added)?);
        current.fields = serde_json::to_string(&merged).map_err(|_| std::fmt::Error)?;
        Ok(())
    }
}

/// Writes each field visited into a JSON map, as `JsonFields` names it;
/// keeps the first error.
struct FieldWriter<M: SerializeMap> {
    map: M,
    result: Result<(), M::Error>,
}

impl<M: SerializeMap> FieldWriter<M> {
    fn entry(&mut self, name: &str, value: &(impl Serialize + ?Sized)) {
        if self.result.is_ok() {
            self.result = self.map.serialize_entry(name, value);
        }
    }
}

impl<M: SerializeMap> Visit for FieldWriter<M> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field.name(), &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field.name(), &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field.name(), &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field.name(), &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field.name(), value);
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.entry(field.name(), value);
    }

    /// As `JsonFields`: a `log` record's own metadata is not a field, and
    /// a raw identifier loses its `r#` (here only, as there).
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.entry(name, &format_args!("{value:?}"));
    }
}

/// Observes every request, as the outermost middleware: gives it an id
/// (echoed as `X-Request-Id`, so a client can quote it in a report) and a
/// span carrying that id, for whatever is logged while it runs; then, once
/// answered, counts and times it (see [`metrics::record_request`]) and
/// writes its access line under the target `blog::http`.
///
/// The line is one event with the request's fields (method, route
/// template, path without its query, status, latency, client address as
/// the trusted proxies decide it, escaped user agent, request id and the
/// authenticated user): a span holding them, logged when it closed, made
/// the JSON formatter re-parse and re-write them at every recorded field
/// and again for the line, which cost more than a small request itself.
pub fn observe<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
{
    let started = Instant::now();
    let id = Uuid::new_v4().to_string();
    let method = metrics::method_label(request.method());
    let path = escaped(request.path());
    let span = tracing::info_span!("request", request_id = id.as_str());
    // Extractors start in `call`: what they log belongs to the request too.
    let answer = span.in_scope(|| service.call(request)).instrument(span);
    answer.map(move |mut result| {
        let status = match &result {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        let elapsed = started.elapsed();
        let request = result.as_ref().ok().map(ServiceResponse::request);
        let route = request.map_or(Cow::Borrowed(UNKNOWN_ROUTE), route_of);
        metrics::record_request(method, route.clone(), status, elapsed);
        let client_ip = request.and_then(client_address);
        let user_agent = request
            .and_then(|request| request.headers().get(header::USER_AGENT))
            .map(|value| escaped(&String::from_utf8_lossy(value.as_bytes())));
        let user_id = request.and_then(|request| request.extensions().get::<UserId>().copied());
        tracing::info!(
            target: ACCESS_LOG,
            // A dotted name first would be ambiguous to the macro.
            request_id = id.as_str(),
            http.method = method,
            http.route = &*route,
            http.path = path,
            http.status_code = status.as_u16(),
            http.client_ip = client_ip.map(tracing::field::display),
            http.user_agent = user_agent,
            user_id = user_id.map(UserId::get),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request",
        );
        if let Ok(response) = &mut result
            && let Ok(id) = HeaderValue::try_from(id)
        {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        result
    })
}

/// The path template of a resource, kept with it by the router's
/// configuration: the route of a request without matching its path again.
#[derive(Debug, Clone, Copy)]
pub struct RouteTemplate(pub &'static str);

/// The route of a request: its resource's template; for the few resources
/// without one (the docs' files), the pattern matched; `unmatched` for a
/// path that no route serves.
fn route_of(request: &HttpRequest) -> Cow<'static, str> {
    match request.app_data::<RouteTemplate>() {
        Some(template) => Cow::Borrowed(template.0),
        None => request
            .match_pattern()
            .map_or(Cow::Borrowed("unmatched"), Cow::Owned),
    }
}

/// The route of a request whose handler panicked: its request is gone.
const UNKNOWN_ROUTE: &str = "unknown";

/// The target of the access lines.
pub const ACCESS_LOG: &str = "blog::http";

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest user agent logged.
const MAX_USER_AGENT_CHARS: usize = 256;

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
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Lines written, kept for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// Each line without its timestamp (the one part that differs).
        fn lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|line| {
                    let (timestamp, rest) = line.split_once("\",\"level\":").unwrap();
                    assert!(timestamp.starts_with("{\"timestamp\":\"20"), "{line}");
                    rest.to_owned()
                })
                .collect()
        }
    }

    fn log_some_events() {
        tracing::info!(
            target: ACCESS_LOG,
            request_id = "a-1",
            http.status_code = 200_u16,
            http.user_agent = None::<String>,
            user_id = Some(7_i64),
            latency_ms = 0.25,
            cached = false,
            "request",
        );
        let span = tracing::info_span!(
            "request",
            request_id = "r-1",
            attempt = 3,
            retries = 18_446_744_073_709_551_615_u64,
            ratio = 0.5,
            nan = f64::NAN,
            cached = true,
            id = %"a \"quoted\" été",
            r#type = ?"debug",
            bytes = &b"ab"[..],
            big = 1_i128 << 100,
            outcome = tracing::field::Empty,
            later = tracing::field::Empty,
        );
        span.record("outcome", "done");
        span.record("later", 2);
        span.in_scope(|| {
            tracing::warn!(
                error = %"a \" quote, a \\ and a\nnew line, été",
                parts = ?["x", "y"],
                "inside \"a\" span"
            );
            let inner = tracing::debug_span!("inner", key = "value");
            inner.in_scope(|| tracing::error!("the innermost span is the current one"));
        });
    }

    #[test]
    fn json_lines_are_the_lines_of_the_json_format() {
        let (theirs, ours) = (Captured::default(), Captured::default());
        let writer = |captured: &Captured| {
            let captured = captured.clone();
            move || captured.clone()
        };
        let json_format = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer(&theirs))
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
        );
        tracing::subscriber::with_default(json_format, log_some_events);
        let json_lines = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer(&ours))
                .fmt_fields(JsonSpanFields)
                .event_format(JsonLines),
        );
        tracing::subscriber::with_default(json_lines, log_some_events);

        let lines = ours.lines();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines, theirs.lines());
        assert!(
            lines[2].contains(r#""span":{"key":"value","name":"inner"}"#),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn line_timestamps_are_rfc_3339_to_the_microsecond() {
        use std::time::{Duration, UNIX_EPOCH};
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        let written = |at| String::from_utf8(line_timestamp(at).unwrap().to_vec()).unwrap();
        let at = UNIX_EPOCH + Duration::new(1_796_415_859, 123_456_789);
        assert_eq!(written(at), "2026-12-04T20:24:19.123456Z");
        // Within the second the kept part is used, then written anew.
        for at in [
            at + Duration::from_nanos(1_000),
            at + Duration::from_millis(876),
            at + Duration::from_millis(877),
            at + Duration::from_secs(86_400 * 400 + 3_601),
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(YEAR_10000 - 1, 999_999_999),
        ] {
            let expected = time::OffsetDateTime::from(at).format(format).unwrap();
            assert_eq!(written(at), expected);
        }
        assert_eq!(line_timestamp(UNIX_EPOCH - Duration::from_secs(1)), None);
        assert_eq!(
            line_timestamp(UNIX_EPOCH + Duration::from_secs(YEAR_10000)),
            None
        );
    }

    /// What tracing-subscriber writes now, and what is written for now.
    #[test]
    fn line_timestamps_are_those_of_tracing_subscriber() {
        let mut seen = Vec::new();
        // Three tries: two readings of the clock may straddle a second.
        for _ in 0..3 {
            let mut theirs = String::new();
            SystemTime
                .format_time(&mut Writer::new(&mut theirs))
                .unwrap();
            let ours = line_timestamp(std::time::SystemTime::now()).unwrap();
            let ours = String::from_utf8(ours.to_vec()).unwrap();
            let (their_second, their_fraction) = theirs.split_once('.').unwrap();
            let (our_second, our_fraction) = ours.split_once('.').unwrap();
            if our_second == their_second {
                assert_eq!(our_fraction.len(), their_fraction.len(), "{ours} {theirs}");
                assert!(their_fraction.ends_with('Z') && our_fraction.ends_with('Z'));
                return;
            }
            seen.push((ours, theirs));
        }
        panic!("never the same to the second (ours, theirs): {seen:?}");
    }

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
