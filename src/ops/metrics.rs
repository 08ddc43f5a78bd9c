//! Prometheus metrics. Routes are labelled by their pattern (`/api/broadcasts/{id}`),
//! never by raw paths, so that the label set stays bounded.

use std::borrow::Cow;
use std::collections::HashSet;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use warp::http::StatusCode;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    known_routes: HashSet<String>,
    /// Pairs made by this node.
    pub matches: IntCounter,
    /// How long the waiting side of each pair waited.
    pub match_wait: Histogram,
    /// Users waiting, by shard (as the last housekeeping run saw them).
    pub pool_size: IntGaugeVec,
    /// The median wait of each shard's recent pairs (the queue status's estimate); -1: none yet.
    pub pool_wait_estimate: IntGaugeVec,
    pub websockets: IntGauge,
    /// Push notifications by outcome: sent, dropped (queue full), failed, invalid_token, duplicate.
    pub push: IntCounterVec,
    /// The event bus's counters (`realtime::bus`).
    pub bus: crate::realtime::bus::BusMetrics,
}

impl Metrics {
    /// `routes`: every route pattern served, as the OpenAPI document lists them.
    pub fn new(routes: impl IntoIterator<Item = String>) -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let matches = IntCounter::new("matches_made_total", "Pairs made").expect("valid metric");
        let match_wait = Histogram::with_opts(
            HistogramOpts::new(
                "match_wait_seconds",
                "Time the waiting side of a pair waited",
            )
            .buckets(vec![
                0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
            ]),
        )
        .expect("valid metric");
        let pool_size = IntGaugeVec::new(
            Opts::new("match_pool_size", "Users waiting, by shard"),
            &["shard"],
        )
        .expect("valid metric");
        let pool_wait_estimate = IntGaugeVec::new(
            Opts::new(
                "match_estimated_wait_ms",
                "Median wait of the pairs of the last 10 minutes, by shard (-1: none)",
            ),
            &["shard"],
        )
        .expect("valid metric");
        let websockets =
            IntGauge::new("websockets_open", "Open WebSocket connections").expect("valid metric");
        let push = IntCounterVec::new(
            Opts::new("push_notifications_total", "Push notifications by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let bus = crate::realtime::bus::BusMetrics {
            received: counter(
                "events_received_total",
                "Event deliveries that reached this node",
            ),
            unneeded: counter(
                "events_unneeded_total",
                "Event deliveries for users with no listener on this node",
            ),
            resubscribes: counter(
                "event_bus_resubscribes_total",
                "Reconnections of the event bus, after which subscriptions were renewed",
            ),
            recovered: counter(
                "events_recovered_total",
                "Events read back from streams after the bus lost messages (a reconnection, a lag)",
            ),
            lagged: counter(
                "event_bus_lagged_total",
                "Bursts that outran the bus buffer (caches forgotten, events read back)",
            ),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 13] = [
            Box::new(push.clone()),
            Box::new(bus.received.clone()),
            Box::new(bus.unneeded.clone()),
            Box::new(bus.resubscribes.clone()),
            Box::new(bus.recovered.clone()),
            Box::new(bus.lagged.clone()),
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(matches.clone()),
            Box::new(match_wait.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_wait_estimate.clone()),
            Box::new(websockets.clone()),
        ];
        for collector in collectors {
            registry.register(collector).expect("registered once");
        }
        let known_routes = routes
            .into_iter()
            .map(|r| r.trim_end_matches('/').to_owned())
            .collect();
        Metrics {
            registry,
            requests,
            latency,
            known_routes,
            matches,
            match_wait,
            pool_size,
            pool_wait_estimate,
            websockets,
            push,
            bus,
        }
    }

    /// The route pattern of a request path: numeric segments become `{id}`,
    /// media keys `{key}`, and unknown paths `unmatched`.
    pub fn route_label(&self, path: &str) -> Cow<'_, str> {
        if path == "/ws" || path == "/ws/" {
            return Cow::Borrowed("/ws");
        }
        if path.starts_with("/media/") {
            return Cow::Borrowed("/media/{key}");
        }
        let path = path.trim_end_matches('/');
        // most requests name no id: their path is their pattern
        if let Some(known) = self.known_routes.get(path) {
            return Cow::Borrowed(known);
        }
        let pattern: Vec<&str> = path
            .split('/')
            .map(|seg| {
                if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                    "{id}"
                } else {
                    seg
                }
            })
            .collect();
        match self.known_routes.get(pattern.join("/").as_str()) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Borrowed("unmatched"),
        }
    }

    pub fn observe(&self, path: &str, method: &str, status: StatusCode, seconds: f64) {
        let route = self.route_label(path);
        self.requests
            .with_label_values(&[&*route, method, status.as_str()])
            .inc();
        self.latency
            .with_label_values(&[&*route, method])
            .observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered metrics");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn labels_are_patterns() {
        let m = Metrics::new([
            "/api/broadcasts/{id}".to_owned(),
            "/api/auth/login/".to_owned(),
        ]);
        assert_eq!(m.route_label("/api/broadcasts/42"), "/api/broadcasts/{id}");
        assert_eq!(m.route_label("/api/auth/login"), "/api/auth/login");
        assert_eq!(m.route_label("/api/auth/login/"), "/api/auth/login");
        assert_eq!(m.route_label("/nope/123"), "unmatched");
        assert_eq!(m.route_label("/media/profiles/abc.png"), "/media/{key}");
    }
}
