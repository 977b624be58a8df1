//! Prometheus metrics, one registry per running app (so tests in one process do not mix).

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub events_ingested: Counter,
    pub events_duplicate: Counter,
    pub live_clients: Gauge,
    pub live_dropped: Counter,
    /// Open connections (HTTP and WebSocket), against `--max-connections`.
    pub connections_open: Gauge,
    /// Asset-days of analytics answered from day rollups, and computed from the events.
    pub rollup_days_read: Counter,
    pub rollup_days_computed: Counter,
    /// Background settles of the day rollups finished (`monitor::settle_days`).
    pub rollup_settles: Counter,
    pub request_seconds: Family<RouteLabels, Histogram>,
    /// Alerts opened, and attempts to deliver them (alerts/).
    pub alerts_opened: Counter,
    pub alert_attempts: Counter,
    /// Logger messages taken from the MQTT broker, and those refused (answered on `error`).
    pub mqtt_messages: Counter,
    pub mqtt_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("assetlog");
        let events_ingested = Counter::default();
        let events_duplicate = Counter::default();
        let live_clients = Gauge::default();
        let live_dropped = Counter::default();
        let connections_open = Gauge::default();
        let rollup_days_read = Counter::default();
        let rollup_days_computed = Counter::default();
        let rollup_settles = Counter::default();
        let alerts_opened = Counter::default();
        let alert_attempts = Counter::default();
        let mqtt_messages = Counter::default();
        let mqtt_refused = Counter::default();
        let request_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        registry.register(
            "events_ingested",
            "Events stored (first arrival only)",
            events_ingested.clone(),
        );
        registry.register(
            "events_duplicate",
            "Retransmitted events acknowledged without storing again",
            events_duplicate.clone(),
        );
        registry.register(
            "live_clients",
            "Connected WebSocket clients",
            live_clients.clone(),
        );
        registry.register(
            "live_dropped_clients",
            "WebSocket clients dropped for falling behind",
            live_dropped.clone(),
        );
        registry.register(
            "connections_open",
            "Open connections, WebSocket clients included",
            connections_open.clone(),
        );
        registry.register(
            "analytics_rollup_days_read",
            "Asset-days of analytics answered from stored day rollups",
            rollup_days_read.clone(),
        );
        registry.register(
            "analytics_rollup_days_computed",
            "Asset-days of analytics computed from the events",
            rollup_days_computed.clone(),
        );
        registry.register(
            "analytics_rollup_settles",
            "Background settles of the day rollups finished (periodic and after backfills)",
            rollup_settles.clone(),
        );
        registry.register("alerts_opened", "Alerts opened", alerts_opened.clone());
        registry.register(
            "alert_delivery_attempts",
            "Attempts to deliver an alert to a channel (each retry counts)",
            alert_attempts.clone(),
        );
        registry.register(
            "mqtt_messages",
            "Logger messages taken from the MQTT broker",
            mqtt_messages.clone(),
        );
        registry.register(
            "mqtt_refused",
            "Logger messages from the MQTT broker refused (answered on the error topic)",
            mqtt_refused.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            request_seconds.clone(),
        );
        Self {
            registry,
            events_ingested,
            events_duplicate,
            live_clients,
            live_dropped,
            connections_open,
            rollup_days_read,
            rollup_days_computed,
            rollup_settles,
            request_seconds,
            alerts_opened,
            alert_attempts,
            mqtt_messages,
            mqtt_refused,
        }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// The method label: the standard methods by name, any other (a client may send any token) as
/// `other`, so the label set stays fixed whatever arrives.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Middleware: times every request by its route template (never by raw path: ids and junk would
/// explode it; whatever matches no route is `unmatched`) and by [`method_label`].
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method()).to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .request_seconds
        .get_or_create(&RouteLabels { method, route })
        .observe(started.elapsed().as_secs_f64());
    response
}
