//! Latency samples, the progress line, and the run's summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Latencies (µs) of one kind of request.
#[derive(Default)]
pub struct Samples(pub Vec<u64>);

impl Samples {
    pub fn add(&mut self, started: Instant) {
        self.0.push(started.elapsed().as_micros() as u64);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Count, rate and percentiles over `seconds`.
    pub fn summary(mut self, seconds: f64) -> Latency {
        self.0.sort_unstable();
        let at = |q: f64| {
            self.0
                .get(((self.0.len().max(1) - 1) as f64 * q) as usize)
                .map_or(0.0, |us| *us as f64 / 1000.0)
        };
        Latency {
            requests: self.0.len() as u64,
            per_second: self.0.len() as f64 / seconds.max(1e-9),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub requests: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn print(&self, name: &str) {
        eprintln!(
            "{name:<30} {:>8} req {:>9.1} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms",
            self.requests, self.per_second, self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
        );
    }
}

/// Requests and errors of the phase that runs, shown once a second on stderr.
#[derive(Default)]
pub struct Progress {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
}

impl Progress {
    pub fn ok(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Prints `[phase] 12 s  34567 requests (2880/s)  0 errors` until the returned flag is set.
    pub fn show(self: &Arc<Self>, phase: &'static str) -> Arc<AtomicBool> {
        let done = Arc::new(AtomicBool::new(false));
        let (progress, stop) = (self.clone(), done.clone());
        let started = Instant::now();
        let base = self.requests.load(Ordering::Relaxed);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let secs = started.elapsed().as_secs_f64();
                let n = progress.requests.load(Ordering::Relaxed) - base;
                eprint!(
                    "\r[{phase}] {secs:>4.0} s  {n:>9} requests ({:>7.0}/s)  {} errors   ",
                    n as f64 / secs,
                    progress.errors.load(Ordering::Relaxed)
                );
            }
            eprintln!();
        });
        done
    }
}

/// What a run measured: printed as JSON with `--json`, checked against thresholds.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub url: String,
    pub users: usize,
    pub errors: u64,
    pub signup: Option<Latency>,
    pub cycle: Option<Cycle>,
    pub open_loop: Vec<OpenLoop>,
    pub events: Option<Events>,
    pub cancel: Option<Latency>,
    pub raw_ceiling_calls_per_s: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cycle {
    pub seconds: f64,
    pub http_requests_per_s: f64,
    pub pairs_per_s: f64,
    pub random: Latency,
    pub decision: Latency,
    pub websocket_match_found: u64,
}

/// One offered rate of the open loop: what was offered, served, and how fast.
#[derive(Debug, Default, Serialize)]
pub struct OpenLoop {
    /// Requests a second offered (five per pair of arrivals).
    pub offered_per_s: u64,
    /// Requests a second answered (any status but 5xx).
    pub served_per_s: f64,
    /// Requests that failed (5xx or no answer).
    pub errors: u64,
    /// Arrivals not sent: every user was still busy with an earlier one.
    pub skipped: u64,
    /// The random that finds a partner.
    pub found: Latency,
    /// The server's resident memory after the row (`--server-pid`).
    pub server_rss_mb: Option<u64>,
}

/// `match_found` to users whose WebSocket is on another node than the request
/// that paired them: how many arrived, and how long after the pairing request left.
#[derive(Debug, Default, Serialize)]
pub struct Events {
    pub sockets: usize,
    pub pairs: u64,
    /// Events received / events owed (two a pair).
    pub delivered_ratio: f64,
    /// From sending the pairing request to the event's receipt, on the other node.
    pub other_node: Latency,
    /// The same for the pairing user's own node.
    pub same_node: Latency,
}
