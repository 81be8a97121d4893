//! Prometheus metrics: the process-wide recorder, the request metrics, the
//! authentication events counted from the domain's `blog::auth` events, and
//! the admin listener that serves them apart from the public API.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpResponse, HttpServer, web};
use blog_domain::{AUTH_EVENTS, SecurityEventKind};
use metrics::{Counter, Histogram, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Histogram buckets, in seconds: from a cached read to a slow hash.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, once [`handle`] has installed it.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. One per process (the
/// `metrics` facade has one global recorder), shared by every server in it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics stays empty");
        }
        metrics::gauge!("blog_api_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        // Histogram samples pile up until upkeep folds them into buckets;
        // without it, an unscraped server would grow by 8 bytes a request.
        let upkeep = handle.clone();
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = started {
            tracing::warn!(%error, "could not start the metrics upkeep thread");
        }
        handle
    })
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// A method as a label: the standard ones by name, any other as `OTHER`, so
/// that a client cannot mint label values.
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

/// Counts a request and its time, by route template (never the raw path:
/// ids and garbage would make label values without end), method and
/// status: `http_requests_total` and `http_request_duration_seconds`.
pub fn record_request(
    method: &'static str,
    route: Cow<'static, str>,
    status: StatusCode,
    elapsed: Duration,
) {
    // Without the recorder every handle is a no-op, and one cached now
    // would stay one after it is installed.
    if HANDLE.get().is_none() {
        return;
    }
    REQUEST_METRICS.with_borrow_mut(|handles| {
        let (requests, duration) = handles
            .entry((method, route, status.as_u16()))
            .or_insert_with_key(|(method, route, status)| {
                let labels = [
                    ("method", SharedString::const_str(method)),
                    ("route", SharedString::from(route.clone())),
                    ("status", SharedString::from_owned(status.to_string())),
                ];
                (
                    metrics::counter!("http_requests_total", &labels),
                    metrics::histogram!("http_request_duration_seconds", &labels),
                )
            });
        requests.increment(1);
        duration.record(elapsed);
    });
}

/// Method, route and status, as labels.
type RequestLabels = (&'static str, Cow<'static, str>, u16);

thread_local! {
    /// Each worker's handles of the request metrics, by labels: looking
    /// them up in the recorder's registry (labels copied and hashed into a
    /// key, a shard locked) for every request was most of what the metrics
    /// cost (profiled). Bounded, as the label values are.
    static REQUEST_METRICS: RefCell<HashMap<RequestLabels, (Counter, Histogram)>> =
        RefCell::new(HashMap::new());
}

/// Counts the domain's authentication events as `auth_events_total{event}`,
/// whatever the log filter keeps: the audit events are the one source.
pub struct AuthEventMetrics;

impl<S: Subscriber> Layer<S> for AuthEventMetrics {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != AUTH_EVENTS {
            return;
        }
        let mut name = EventName(None);
        event.record(&mut name);
        if let Some(name) = name.0 {
            metrics::counter!("auth_events_total", "event" => name).increment(1);
        }
    }
}

/// The `event` field, if it names a [`SecurityEventKind`]: a bounded set
/// of label values.
struct EventName(Option<&'static str>);

impl Visit for EventName {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.0 = value.parse().ok().map(SecurityEventKind::as_str);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// Samples what is only known when asked (the pool's size), before a scrape.
pub type Sampler = Arc<dyn Fn() + Send + Sync>;

/// The admin listener: `GET /metrics` in Prometheus' text format, on its own
/// address, so that metrics are never public by accident.
///
/// # Errors
/// When the listener cannot be used.
pub fn admin_server(listener: TcpListener, sample: Sampler) -> std::io::Result<Server> {
    let handle = handle();
    Ok(HttpServer::new(move || {
        let sample = Arc::clone(&sample);
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let sample = Arc::clone(&sample);
                async move {
                    sample();
                    handle.run_upkeep();
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4")
                        .body(handle.render())
                }
            }),
        )
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .client_request_timeout(Duration::from_secs(5))
    .run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }
}
