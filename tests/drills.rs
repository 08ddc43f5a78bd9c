//! Failover drills: a Redis Cluster master, a Sentinel master, a voxmatch
//! node and Postgres, each killed or restarted under traffic, and a Cluster
//! slot moved between masters under a node. Each drill owns
//! what it kills (a private Cluster, a private Sentinel set), except Postgres,
//! which `scripts/dev.sh pg-restart` restarts; so they run one at a time,
//! after the suite: `scripts/dev.sh drill` (`cargo test --test drills --
//! --ignored --test-threads=1`). They print their figures (BENCHMARKS.md).

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "drills/servers.rs"]
mod servers;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use helpers::*;

/// What a stretch of pairing traffic got.
#[derive(Default)]
struct Seen {
    ok: u64,
    /// Times and statuses of every failed request (5xx, or no answer).
    failures: Vec<(Instant, String)>,
    /// Failed requests by the node they were sent to.
    failed_at: HashMap<String, u64>,
    /// The users each match id was shown to.
    matches: HashMap<i64, HashSet<i64>>,
}

impl Seen {
    /// From `from` to the last failure: how long the service was unavailable.
    fn window(&self, from: Instant) -> Duration {
        self.failures
            .iter()
            .map(|(t, _)| t.saturating_duration_since(from))
            .max()
            .unwrap_or_default()
    }

    fn failed(&mut self, node: &str, what: String) {
        self.failures.push((Instant::now(), what));
        *self.failed_at.entry(node.to_owned()).or_default() += 1;
    }

    fn statuses(&self) -> HashSet<String> {
        self.failures.iter().map(|(_, s)| s.clone()).collect()
    }
}

/// When a stretch of traffic ends; a drill may move it later while it runs.
#[derive(Clone)]
struct Until(Arc<Mutex<Instant>>);

impl Until {
    fn after(d: Duration) -> Self {
        Until(Arc::new(Mutex::new(Instant::now() + d)))
    }

    fn passed(&self) -> bool {
        Instant::now() >= *self.0.lock().unwrap()
    }

    fn set(&self, t: Instant) {
        *self.0.lock().unwrap() = t;
    }
}

/// Users pair (random → accept) against `base` until `until`; every answer is recorded.
async fn pairing(base: String, users: Vec<Member>, until: Until, seen: Arc<Mutex<Seen>>) {
    // longer than the server's own Redis and Postgres time-outs: what it answers is measured
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let tasks = users.into_iter().map(|user| {
        let (client, base, seen, until) =
            (client.clone(), base.clone(), seen.clone(), until.clone());
        tokio::spawn(async move {
            while !until.passed() {
                let res = client
                    .get(format!("{base}/api/match/random/?wait=1"))
                    .bearer_auth(&user.token)
                    .send()
                    .await;
                let (status, body) = match res {
                    Ok(res) => parts(res).await,
                    Err(e) => {
                        seen.lock().unwrap().failed(&base, format!("{e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if status.is_server_error() {
                    seen.lock().unwrap().failed(&base, status.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                seen.lock().unwrap().ok += 1;
                if status == StatusCode::OK {
                    let id = body["match_id"].as_i64().unwrap();
                    seen.lock()
                        .unwrap()
                        .matches
                        .entry(id)
                        .or_default()
                        .insert(user.id);
                    let _ = client
                        .post(format!("{base}/api/match/decision/"))
                        .bearer_auth(&user.token)
                        .json(&json!({"match_id": id, "decision": "reject"}))
                        .send()
                        .await;
                }
            }
        })
    });
    futures_util::future::join_all(tasks).await;
}

/// Users of both genders; every fourth pays a gem a match.
async fn crowd(app: &TestApp, n: usize) -> Vec<Member> {
    let mut users = Vec::new();
    for i in 0..n {
        let m = member(app, if i % 2 == 0 { "female" } else { "male" }, 30).await;
        if i % 4 == 1 {
            grant_gems(app, m.id, 1000).await;
            let (status, _) = app
                .settings(&m.token, json!({"preferred_gender": "female"}))
                .await;
            assert_eq!(status, StatusCode::OK);
        }
        users.push(m);
    }
    users
}

fn copy(users: &[Member]) -> Vec<Member> {
    users
        .iter()
        .map(|m| Member {
            id: m.id,
            username: m.username.clone(),
            token: m.token.clone(),
        })
        .collect()
}

/// After any drill: no match shown to more than two users, balances = ledgers.
async fn assert_consistent(app: &TestApp, users: &[Member], seen: &Seen) {
    for (id, shown) in &seen.matches {
        assert!(shown.len() <= 2, "match {id} shown to {shown:?}");
    }
    for user in users {
        let (balance, ledger) = balance_and_ledger(app, user.id).await;
        assert_eq!(balance, ledger, "user {}", user.id);
    }
}

/// A pair made through `a` is announced on a WebSocket held on `b`.
async fn events_cross(a: &TestApp, b: &TestApp) {
    let (w, m) = (member(a, "female", 77).await, member(a, "male", 77).await);
    // only each other: the drill's crowd may still wait in the pool
    for user in [&w, &m] {
        settings(a, user, json!({"age_range": [70, 80]})).await;
    }
    let mut socket = websocket(&b.url, &w.token).await;
    // the node may still be reconnecting: retry the pairing for a while
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (sw, _) = a.random(&w.token, 0).await;
        let (sm, body) = a.random(&m.token, 0).await;
        if sm == StatusCode::OK || sw == StatusCode::OK {
            let id = body["match_id"].clone();
            let event = next_event(&mut socket, "match_found").await;
            if sm == StatusCode::OK {
                assert_eq!(event["match_id"], id);
            }
            return;
        }
        assert!(Instant::now() < deadline, "no pair after the failover");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
#[ignore = "a drill: scripts/dev.sh drill"]
async fn drill_a_cluster_master_killed_during_matching() {
    let cluster = tokio::task::spawn_blocking(servers::Cluster::start)
        .await
        .unwrap();
    let url = cluster.url();
    let vars = [("REDIS_URL", url.as_str()), ("REMATCH_COOLDOWN_SEC", "0")];
    let a = spawn_app_with(&vars).await;
    let b = spawn_node(&a, &vars).await;
    let users = crowd(&a, 40).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    // until 20 s after the kill, or 10 s after the promotion if that is later
    let until = Until::after(Duration::from_secs(90));
    let (half_a, half_b) = users.split_at(20);
    let load = tokio::join!(
        tokio::spawn(pairing(
            a.url.clone(),
            copy(half_a),
            until.clone(),
            seen.clone()
        )),
        tokio::spawn(pairing(
            b.url.clone(),
            copy(half_b),
            until.clone(),
            seen.clone()
        )),
        async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let pool = format!("{}{{pool:global}}:seen", a.prefix);
            let mut cluster = cluster;
            let victim = cluster.master_of(&pool);
            let killed = Instant::now();
            cluster.nodes[victim].kill();
            let (cluster, promoted) = tokio::task::spawn_blocking(move || {
                let promoted = cluster.promoted(victim, &pool, killed, Duration::from_secs(60));
                (cluster, promoted)
            })
            .await
            .unwrap();
            // Redis's own election is slow on a busy machine (a failed vote is
            // retried after 4 node time-outs)
            let promoted = promoted.unwrap_or_else(|| panic!("no promotion\n{}", cluster.logs()));
            until.set(killed + (promoted + Duration::from_secs(10)).max(Duration::from_secs(20)));
            (cluster, victim, killed, promoted)
        }
    );
    let (mut cluster, victim, killed, promoted) = load.2;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let window = seen.window(killed);
    println!(
        "drill cluster master: {} requests ok, {} failed, unavailable {:.1} s after the kill, \
         {:.1} s of it Redis's own promotion of a replica; failures {:?} by node {:?}",
        seen.ok,
        seen.failures.len(),
        window.as_secs_f64(),
        promoted.as_secs_f64(),
        seen.statuses(),
        seen.failed_at
    );
    // a request sent just before the promotion may wait out the 5 s command time-out
    assert!(
        window < promoted + Duration::from_secs(8),
        "unavailable for {window:?}, {promoted:?} of it Redis's promotion\n{}",
        cluster.logs()
    );
    assert!(
        seen.statuses().iter().all(|s| s.starts_with("503")),
        "{:?}",
        seen.statuses()
    );
    assert_consistent(&a, &users, &seen).await;
    events_cross(&a, &b).await;
    // the old master comes back as a replica
    cluster.nodes[victim].restart();
    tokio::task::spawn_blocking(move || cluster.wait_ok(Duration::from_secs(20)))
        .await
        .unwrap();
}

/// A slot moved between masters (a resharding) under a node: while it moves,
/// Redis answers `ASK` for its missing keys, and fred, with no attempt left
/// (commands run at most once), stops that client's router. The node starts
/// it again: once the slot has moved, commands run.
#[tokio::test]
#[ignore = "a drill: scripts/dev.sh drill"]
async fn drill_a_slot_moved_between_masters() {
    let cluster = tokio::task::spawn_blocking(servers::Cluster::start)
        .await
        .unwrap();
    let counter = RunCounter::connect(&cluster.url()).await;
    assert_eq!(counter.run("{elsewhere}runs").await.unwrap(), 1);
    let (slot, from, to) = cluster.migrate_start("{moved}runs");
    let asked = counter.run("{moved}runs").await;
    assert!(asked.is_err(), "no ASK: {asked:?}");
    cluster.migrate_end(slot, from, to);
    let moved = Instant::now();
    // the first command may meet a MOVED (the client's slot map is old): one attempt, a 503
    let result = eventually(|| counter.run("{moved}runs"), Result::is_ok).await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(counter.run("{elsewhere}runs").await.unwrap(), 2);
    println!(
        "drill slot moved: commands ran again {:.1} s after the move",
        moved.elapsed().as_secs_f64()
    );
}

#[tokio::test]
#[ignore = "a drill: scripts/dev.sh drill"]
async fn drill_a_sentinel_master_killed_during_matching() {
    let set = tokio::task::spawn_blocking(servers::Sentinels::start)
        .await
        .unwrap();
    let url = set.url();
    let vars = [("REDIS_URL", url.as_str()), ("REMATCH_COOLDOWN_SEC", "0")];
    let a = spawn_app_with(&vars).await;
    let b = spawn_node(&a, &vars).await;
    let users = crowd(&a, 30).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Until::after(Duration::from_secs(25));
    let mut set = set;
    let load = tokio::spawn(pairing(a.url.clone(), copy(&users), until, seen.clone()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let killed = Instant::now();
    set.master.kill();
    load.await.unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let window = seen.window(killed);
    println!(
        "drill sentinel master: {} requests ok, {} failed, unavailable {:.1} s after the kill; failures {:?}",
        seen.ok,
        seen.failures.len(),
        window.as_secs_f64(),
        seen.statuses()
    );
    let promoted = servers::cli(set.replica.port, &["role"]).unwrap_or_default();
    assert!(promoted.starts_with("master"), "{promoted}");
    assert!(
        window < Duration::from_secs(15),
        "unavailable for {window:?}"
    );
    assert!(
        seen.statuses().iter().all(|s| s.starts_with("503")),
        "{:?}",
        seen.statuses()
    );
    assert_consistent(&a, &users, &seen).await;
    events_cross(&a, &b).await;
}

#[tokio::test]
#[ignore = "a drill: scripts/dev.sh drill"]
async fn drill_a_voxmatch_node_killed_mid_traffic() {
    let vars = [("GHOST_TIMEOUT_SEC", "2"), ("REMATCH_COOLDOWN_SEC", "0")];
    let app = spawn_app_with(&vars).await;
    let mut doomed = spawn_process_with(&app, &vars).await;
    let survivor = spawn_process_with(&app, &vars).await;
    let users = crowd(&app, 20).await;
    // sign-ups through the doomed node, all the while
    let signed = Arc::new(Mutex::new(Vec::new()));
    let signups = {
        let (url, signed) = (doomed.url.clone(), signed.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..100 {
                let name = unique("d");
                let form = signup_form(&name, "password1", "30", "male");
                let Ok(res) = client
                    .post(format!("{url}/api/auth/signup/"))
                    .multipart(form)
                    .send()
                    .await
                else {
                    return;
                };
                if res.status() == StatusCode::CREATED {
                    signed.lock().unwrap().push(name);
                }
            }
        })
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Until::after(Duration::from_secs(3));
    let load = tokio::spawn(pairing(
        doomed.url.clone(),
        copy(&users),
        until,
        seen.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    doomed.kill();
    load.await.unwrap();
    signups.await.unwrap();
    // users retry on the other node; their waiting entries clear as ghosts
    tokio::time::sleep(Duration::from_secs(3)).await;
    use fred::prelude::*;
    let waiting: i64 = app
        .state
        .redis
        .pool
        .zcard(format!("{}{{pool:global}}:seen", app.prefix))
        .await
        .unwrap();
    assert_eq!(waiting, 0, "ghosts left in the pool");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_consistent(&app, &users, &seen).await;
    let retried = Arc::new(Mutex::new(Seen::default()));
    let until = Until::after(Duration::from_secs(3));
    pairing(survivor.url.clone(), copy(&users), until, retried.clone()).await;
    let retried = std::mem::take(&mut *retried.lock().unwrap());
    assert!(retried.failures.is_empty() && !retried.matches.is_empty());
    let names = signed.lock().unwrap().clone();
    for name in &names {
        let res = reqwest::Client::new()
            .post(format!("{}/api/auth/login/", survivor.url))
            .json(&json!({"username": name, "password": "password1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{name} signed up but cannot log in"
        );
    }
    println!(
        "drill node kill: {} pairing requests before the kill, {} signups answered 201 (all log in on the other node), pool empty 3 s later",
        seen.ok,
        names.len()
    );
}

#[tokio::test]
#[ignore = "a drill: scripts/dev.sh drill"]
async fn drill_postgres_restarted_mid_traffic() {
    let restart =
        std::env::var("VOXMATCH_PG_RESTART").expect("VOXMATCH_PG_RESTART (set by dev.sh drill)");
    let app = spawn_app_with(&[("REMATCH_COOLDOWN_SEC", "0")]).await;
    let users = crowd(&app, 20).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Until::after(Duration::from_secs(20));
    let load = tokio::spawn(pairing(app.url.clone(), copy(&users), until, seen.clone()));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restarted = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .args(["-c", &restart])
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success());
    let took = restarted.elapsed();
    load.await.unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let window = seen.window(restarted);
    println!(
        "drill postgres restart: restart took {:.1} s; {} requests ok, {} failed ({:?}), unavailable {:.1} s",
        took.as_secs_f64(),
        seen.ok,
        seen.failures.len(),
        seen.statuses(),
        window.as_secs_f64()
    );
    assert!(
        seen.statuses().iter().all(|s| s.starts_with("503")),
        "{:?}",
        seen.statuses()
    );
    assert!(
        window < took + Duration::from_secs(10),
        "unavailable for {window:?}"
    );
    assert_consistent(&app, &users, &seen).await;
}

/// One paid pairing attempt: a woman waits, a man who pays a gem asks. His
/// status, and whether the gem left his balance.
async fn paid_pair(app: &TestApp) -> (StatusCode, Member) {
    let w = member(app, "female", 50).await;
    let m = member(app, "male", 50).await;
    grant_gems(app, m.id, 1).await;
    let (status, _) = app
        .settings(
            &m.token,
            json!({"preferred_gender": "female", "age_range": [50, 50]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.settings(&w.token, json!({"age_range": [50, 50]})).await;
    assert_eq!(status, StatusCode::OK);
    app.random(&w.token, 0).await;
    let (status, _) = app.random(&m.token, 0).await;
    // whatever happened, neither stays in line for the next attempt
    app.cancel(&w.token).await;
    app.cancel(&m.token).await;
    (status, m)
}

#[tokio::test]
#[ignore = "a drill: scripts/dev.sh drill"]
async fn drill_paid_pairs_wait_for_a_replica() {
    let set = tokio::task::spawn_blocking(servers::Sentinels::start)
        .await
        .unwrap();
    let url = set.url();
    let app = spawn_app_with(&[
        ("REDIS_URL", url.as_str()),
        ("REDIS_WAIT_REPLICAS", "1"),
        ("REDIS_WAIT_MS", "200"),
    ])
    .await;
    let mut set = set;
    let (status, m) = paid_pair(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(balance_and_ledger(&app, m.id).await, (0, 0));
    // without a replica a paid pair could vanish in a failover after it was paid: refused
    set.replica.kill();
    let (status, m) = paid_pair(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        balance_and_ledger(&app, m.id).await,
        (1, 1),
        "charged for an unreplicated pair"
    );
    // free pairs do not wait
    let (a, b) = (
        member(&app, "female", 60).await,
        member(&app, "male", 60).await,
    );
    for u in [&a, &b] {
        let (status, body) = app.settings(&u.token, json!({"age_range": [60, 60]})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let waiting = app.random(&a.token, 0).await;
    assert_eq!(waiting.0, StatusCode::ACCEPTED, "{:?}", waiting.1);
    let found = app.random(&b.token, 0).await;
    assert_eq!(found.0, StatusCode::OK, "{:?}", found.1);
    set.replica.restart();
    let set = tokio::task::spawn_blocking(move || {
        set.wait_replica_up();
        set
    })
    .await
    .unwrap();
    let (status, m) = paid_pair(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(balance_and_ledger(&app, m.id).await, (0, 0));
    drop(set);
    println!(
        "drill replica wait: paid pairs refused (503) without a replica, charged once it is back"
    );
}
