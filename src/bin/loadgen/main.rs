//! loadgen: many virtual users against a voxmatch server on this machine
//! (loopback only), bounded in time. Phases, in one run (`--phases`):
//! `cycle` (sign-up, then every user loops random → accept; a tenth hold a
//! WebSocket), `open` (pairs arriving at fixed rates; the latency of the
//! random that finds a partner), `events` (every user holds a WebSocket, on
//! `--url2` for half of them: the delivery and latency of `match_found` across
//! nodes), `raw` (the pairing script straight against Redis: the ceiling). The report goes to stderr, `--json` prints the
//! summary on stdout, and thresholds set the exit code (for CI).
//!
//! The server should run with `REMATCH_COOLDOWN_SEC=0` (users meet again
//! within the run) and a high `SIGNUP_IP_LIMIT`; see BENCHMARKS.md.

mod phases;
mod raw;
mod stats;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;

use stats::{Progress, Summary};

#[derive(Parser, Debug)]
#[command(about = "Load generator for a voxmatch server on this machine (loopback only)")]
pub struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A second node of the same deployment, for the `events` phase (default: `--url`).
    #[arg(long)]
    pub url2: Option<String>,
    /// The server's process id: its resident memory is reported after each open-loop rate.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Redis of the server, for the raw ceiling.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:16379")]
    pub redis: String,
    /// Virtual users (half women, half men, all wanting anyone).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Seconds each timed phase runs (each open-loop rate too).
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Open-loop rates, requests per second (five per pair of arrivals), comma-separated: one row each.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub rate: Vec<u64>,
    /// Phases to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "cycle,open,raw")]
    pub phases: Vec<Phase>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Fail (exit 1) when the match cycle serves fewer HTTP requests a second.
    #[arg(long)]
    pub min_cycle_rps: Option<f64>,
    /// Fail when the p99 of a random that finds a partner (open loop, any rate) is higher.
    #[arg(long)]
    pub max_found_p99_ms: Option<f64>,
    /// Fail when more requests than this failed (5xx or no answer).
    #[arg(long, default_value_t = 0)]
    pub max_errors: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Cycle,
    Open,
    Events,
    Raw,
}

/// Only this machine is a target.
fn loopback(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .map(|hp| {
            let hp = hp.rsplit_once('@').map_or(hp, |(_, h)| h);
            hp.rsplit_once(':')
                .map_or(hp, |(h, _)| h)
                .trim_matches(['[', ']'])
        })
        .unwrap_or_default();
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The thresholds the summary misses.
fn misses(a: &Args, s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    if s.errors > a.max_errors {
        out.push(format!("{} errors > {}", s.errors, a.max_errors));
    }
    if let (Some(min), Some(cycle)) = (a.min_cycle_rps, &s.cycle)
        && cycle.http_requests_per_s < min
    {
        out.push(format!(
            "match cycle {:.0} req/s < {min}",
            cycle.http_requests_per_s
        ));
    }
    if let Some(max) = a.max_found_p99_ms {
        for row in s.open_loop.iter().filter(|r| r.found.p99_ms > max) {
            out.push(format!(
                "open loop at {}/s: p99 {:.2} ms > {max}",
                row.offered_per_s, row.found.p99_ms
            ));
        }
    }
    out
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    for url in [&a.url, &a.redis].into_iter().chain(&a.url2) {
        if !loopback(url) {
            eprintln!("loadgen only targets loopback addresses, not {url}");
            std::process::exit(2);
        }
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client builds");
    let progress = Arc::new(Progress::default());
    let mut summary = Summary {
        url: a.url.clone(),
        ..Summary::default()
    };
    eprintln!(
        "== loadgen against {}: {} users, {} s per phase",
        a.url, a.users, a.seconds
    );
    let needs_users = [Phase::Cycle, Phase::Open, Phase::Events];
    if a.phases.iter().any(|p| needs_users.contains(p)) {
        let (mut users, signup) = phases::setup(&client, &a, &progress).await;
        signup.print("signup + settings");
        summary.users = users.len();
        summary.signup = Some(signup);
        if a.phases.contains(&Phase::Cycle) {
            let cycle = phases::match_cycle(&client, &a, &users, &progress).await;
            eprintln!(
                "\n== match cycle, closed loop, {} users, {:.1} s",
                users.len(),
                cycle.seconds
            );
            cycle.random.print("GET /api/match/random/");
            cycle.decision.print("POST /api/match/decision/");
            eprintln!(
                "match cycle: {:.0} HTTP req/s, {:.0} pairs/s; {} match_found events on WebSockets",
                cycle.http_requests_per_s, cycle.pairs_per_s, cycle.websocket_match_found
            );
            summary.cycle = Some(cycle);
            phases::cancel_all(&client, &a, &users, &progress).await;
        }
        if a.phases.contains(&Phase::Open) {
            eprintln!("\n== open loop: offered, served, p99 of the random that finds a partner");
            for &rate in &a.rate {
                let (row, back) = phases::open_loop(&client, &a, users, rate, &progress).await;
                users = back;
                row.found.print(&format!(
                    "{rate}/s offered, {:.0}/s served",
                    row.served_per_s
                ));
                if row.errors > 0 || row.skipped > 0 {
                    eprintln!("  {} errors, {} arrivals skipped", row.errors, row.skipped);
                }
                if let Some(rss) = row.server_rss_mb {
                    eprintln!("  server RSS {rss} MB");
                }
                summary.open_loop.push(row);
            }
        }
        if a.phases.contains(&Phase::Events) {
            let events = phases::events(&client, &a, &users, &progress).await;
            eprintln!(
                "\n== events: {} WebSockets over two nodes, {} pairs, {:.4} of match_found delivered",
                events.sockets, events.pairs, events.delivered_ratio
            );
            events.other_node.print("match_found, other node");
            events.same_node.print("match_found, same node");
            summary.events = Some(events);
        }
        let cancel = phases::cancel_all(&client, &a, &users, &progress).await;
        cancel.print("POST /api/match/cancel/");
        summary.cancel = Some(cancel);
    }
    if a.phases.contains(&Phase::Raw) {
        let ceiling = raw::raw_ceiling(&a).await;
        eprintln!(
            "\n== raw ceiling: EVALSHA pair.lua straight to Redis, 32 in flight: {ceiling:.0} calls/s"
        );
        summary.raw_ceiling_calls_per_s = Some(ceiling);
    }
    summary.errors = progress.errors.load(Ordering::Relaxed);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("the summary serializes")
        );
    }
    let missed = misses(&a, &summary);
    for miss in &missed {
        eprintln!("threshold missed: {miss}");
    }
    std::process::exit(if missed.is_empty() { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(loopback("http://127.0.0.1:8080"));
        assert!(loopback("http://localhost/x"));
        assert!(loopback("redis://:pw@127.0.0.1:16379/5"));
        assert!(loopback("http://[::1]:80"));
        assert!(!loopback("http://10.0.0.1:8080"));
        assert!(!loopback("http://example.com"));
    }

    #[test]
    fn the_arguments_parse_and_help_explains_every_option() {
        let a = Args::try_parse_from([
            "loadgen", "--rate", "500,2000", "--phases", "open", "--json",
        ])
        .unwrap();
        assert_eq!(a.rate, [500, 2000]);
        assert_eq!(a.phases, [Phase::Open]);
        let help = <Args as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for option in [
            "--url",
            "--users",
            "--seconds",
            "--rate",
            "--phases",
            "--json",
            "--min-cycle-rps",
            "--max-found-p99-ms",
            "--max-errors",
        ] {
            assert!(help.contains(option), "{option} missing from --help");
        }
    }
}
