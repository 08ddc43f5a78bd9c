//! The phases of a run: sign-up, the closed-loop match cycle, the open loop
//! at fixed arrival rates, cancel. Failed requests are counted, never fatal.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::Args;
use crate::stats::{Cycle, Events, Latency, OpenLoop, Progress, Samples};

pub struct User {
    pub token: String,
}

/// Sends one request; `(status, body)` or `None` when it failed to complete.
async fn send(req: reqwest::RequestBuilder, progress: &Progress) -> Option<(u16, Value)> {
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let body = res.json().await.unwrap_or(Value::Null);
            if status >= 500 {
                progress.error();
            } else {
                progress.ok();
            }
            Some((status, body))
        }
        Err(_) => {
            progress.error();
            None
        }
    }
}

/// Sign-up and settings of every user (argon2 on the server: the slow part).
pub async fn setup(
    client: &reqwest::Client,
    a: &Args,
    progress: &Arc<Progress>,
) -> (Vec<User>, Latency) {
    let run = format!("{:06x}", rand::random::<u32>() & 0xffffff);
    let started = Instant::now();
    let shown = progress.show("sign-up");
    let mut users = Vec::with_capacity(a.users);
    let mut samples = Samples::default();
    for chunk in (0..a.users).collect::<Vec<_>>().chunks(16) {
        let made = futures_util::future::join_all(chunk.iter().map(|&i| {
            let gender = if i % 2 == 0 { "female" } else { "male" };
            let form = reqwest::multipart::Form::new()
                .text("username", format!("lg{run}_{i}"))
                .text("password", "loadgen-password")
                .text("age", "30")
                .text("gender", gender);
            async move {
                let t = Instant::now();
                let signup = client.post(format!("{}/api/auth/signup/", a.url));
                let (status, body) = send(signup.multipart(form), progress).await?;
                let token = body["access"]
                    .as_str()
                    .filter(|_| status == 201)?
                    .to_owned();
                let settings = client
                    .post(format!("{}/api/match/settings/", a.url))
                    .bearer_auth(&token)
                    .json(&json!({"preferred_gender": "all", "age_range": [18, 100]}));
                send(settings, progress).await?;
                Some((t, token))
            }
        }))
        .await;
        for (t, token) in made.into_iter().flatten() {
            samples.add(t);
            users.push(User { token });
        }
    }
    shown.store(true, Ordering::Relaxed);
    (users, samples.summary(started.elapsed().as_secs_f64()))
}

/// Every user loops random → accept for `--seconds`; a tenth of them also
/// hold a WebSocket and count `match_found` events.
pub async fn match_cycle(
    client: &reqwest::Client,
    a: &Args,
    users: &[User],
    progress: &Arc<Progress>,
) -> Cycle {
    let until = Instant::now() + Duration::from_secs(a.seconds);
    let matched = Arc::new(AtomicU64::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ws_url = a.url.replacen("http", "ws", 1);
    let mut sockets = Vec::new();
    for user in users.iter().step_by(10) {
        let url = format!("{ws_url}/ws?token={}", user.token);
        let Ok((socket, _)) = tokio_tungstenite::connect_async(url).await else {
            progress.error();
            continue;
        };
        let (events, stop) = (events.clone(), stop.clone());
        sockets.push(tokio::spawn(async move {
            let (_, mut rx) = socket.split();
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), rx.next()).await {
                    Ok(Some(Ok(m))) if m.to_text().is_ok_and(|t| t.contains("\"match_found\"")) => {
                        events.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(_) => break,
                }
            }
        }));
    }
    let shown = progress.show("match cycle");
    let started = Instant::now();
    let tasks = users.iter().map(|user| {
        let matched = matched.clone();
        async move {
            let (mut rnd, mut dec) = (Samples::default(), Samples::default());
            while Instant::now() < until {
                let t = Instant::now();
                let req = client
                    .get(format!("{}/api/match/random/?wait=2", a.url))
                    .bearer_auth(&user.token);
                let Some((status, body)) = send(req, progress).await else {
                    continue;
                };
                rnd.add(t);
                if status != 200 {
                    continue;
                }
                let t = Instant::now();
                let req = client
                    .post(format!("{}/api/match/decision/", a.url))
                    .bearer_auth(&user.token)
                    .json(&json!({"match_id": body["match_id"], "decision": "accept"}));
                if let Some((_, outcome)) = send(req, progress).await {
                    dec.add(t);
                    if outcome["status"] == "matched" {
                        matched.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (rnd, dec)
        }
    });
    let results = futures_util::future::join_all(tasks).await;
    let seconds = started.elapsed().as_secs_f64();
    shown.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for s in sockets {
        let _ = s.await;
    }
    let (mut rnd, mut dec) = (Samples::default(), Samples::default());
    for (r, d) in results {
        rnd.extend(r);
        dec.extend(d);
    }
    let requests = (rnd.0.len() + dec.0.len()) as f64;
    Cycle {
        seconds,
        http_requests_per_s: requests / seconds,
        pairs_per_s: matched.load(Ordering::Relaxed) as f64 / 2.0 / seconds,
        random: rnd.summary(seconds),
        decision: dec.summary(seconds),
        websocket_match_found: events.load(Ordering::Relaxed),
    }
}

/// Pairs of users arrive at `rate` requests a second (five per pair: a random
/// that waits, the random that finds it, whose latency is reported, a reject,
/// and both cancel), for `--seconds`.
pub async fn open_loop(
    client: &reqwest::Client,
    a: &Args,
    users: Vec<User>,
    rate: u64,
    progress: &Arc<Progress>,
) -> (OpenLoop, Vec<User>) {
    let (women, men): (Vec<_>, Vec<_>) =
        users.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let queue = |side: Vec<(usize, User)>| {
        Arc::new(Mutex::new(
            side.into_iter().map(|(_, u)| u).collect::<VecDeque<_>>(),
        ))
    };
    let (women, men) = (queue(women), queue(men));
    let found = Arc::new(std::sync::Mutex::new(Samples::default()));
    let skipped = Arc::new(AtomicU64::new(0));
    let (requests_before, errors_before) = (
        progress.requests.load(Ordering::Relaxed),
        progress.errors.load(Ordering::Relaxed),
    );
    let mut tick = tokio::time::interval(Duration::from_secs_f64(5.0 / rate.max(1) as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let shown = progress.show("open loop");
    let until = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut inflight = Vec::new();
    while Instant::now() < until {
        tick.tick().await;
        let (w, m) = (women.lock().await.pop_front(), men.lock().await.pop_front());
        let (Some(w), Some(m)) = (w, m) else {
            skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (women, men, found) = (women.clone(), men.clone(), found.clone());
        let (client, url, progress) = (client.clone(), a.url.clone(), progress.clone());
        inflight.push(tokio::spawn(async move {
            let random = |token: &str| {
                client
                    .get(format!("{url}/api/match/random/?wait=0"))
                    .bearer_auth(token.to_owned())
            };
            send(random(&w.token), &progress).await;
            let t = Instant::now();
            if let Some((200, body)) = send(random(&m.token), &progress).await {
                found.lock().unwrap().add(t);
                let reject = client
                    .post(format!("{url}/api/match/decision/"))
                    .bearer_auth(&m.token)
                    .json(&json!({"match_id": body["match_id"], "decision": "reject"}));
                send(reject, &progress).await;
            }
            // either side may have been paired with another arrival: leave the pool
            for token in [&w.token, &m.token] {
                let cancel = client
                    .post(format!("{url}/api/match/cancel/"))
                    .bearer_auth(token);
                send(cancel, &progress).await;
            }
            women.lock().await.push_back(w);
            men.lock().await.push_back(m);
        }));
    }
    for task in inflight {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    shown.store(true, Ordering::Relaxed);
    let found = std::mem::take(&mut *found.lock().unwrap()).summary(seconds);
    let errors = progress.errors.load(Ordering::Relaxed) - errors_before;
    let requests = progress.requests.load(Ordering::Relaxed) - requests_before;
    let result = OpenLoop {
        offered_per_s: rate,
        served_per_s: (requests - errors) as f64 / seconds,
        errors,
        skipped: skipped.load(Ordering::Relaxed),
        found,
        server_rss_mb: a.server_pid.and_then(rss_mb),
    };
    let mut users = Vec::new();
    users.extend(women.lock().await.drain(..));
    users.extend(men.lock().await.drain(..));
    (result, users)
}

/// Resident memory of a process (MB), from `/proc`.
fn rss_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// A `match_found` a WebSocket received: its match and when.
type Receipt = (i64, Instant);

/// Every user holds a WebSocket, women's on `--url2` and men's on `--url`; pairs
/// (a woman who waits, a man who finds her, both through `--url`, then a reject)
/// run 64 at a time for `--seconds`, every user in turn. Her event crosses nodes,
/// his does not.
pub async fn events(
    client: &reqwest::Client,
    a: &Args,
    users: &[User],
    progress: &Arc<Progress>,
) -> Events {
    let other = a.url2.clone().unwrap_or_else(|| a.url.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let base = if i % 2 == 0 { &other } else { &a.url };
        let url = format!("{}/ws?token={}", base.replacen("http", "ws", 1), user.token);
        let Ok((socket, _)) = tokio_tungstenite::connect_async(url).await else {
            progress.error();
            continue;
        };
        let stop = stop.clone();
        readers.push(tokio::spawn(async move {
            let (_, mut rx) = socket.split();
            let mut got: Vec<Receipt> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), rx.next()).await {
                    Ok(Some(Ok(m))) => {
                        let Ok(text) = m.to_text() else { continue };
                        if !text.contains("\"match_found\"") {
                            continue;
                        }
                        let at = Instant::now();
                        let event: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                        if let Some(id) = event["match_id"].as_i64() {
                            got.push((id, at));
                        }
                    }
                    Err(_) => {}
                    Ok(_) => break,
                }
            }
            (i % 2 == 0, got)
        }));
    }
    let sockets = readers.len();
    let sent = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let shown = progress.show("events");
    let until = Instant::now() + Duration::from_secs(a.seconds);
    const LANES: usize = 64;
    let pairs: Vec<&[User]> = users.chunks(2).filter(|pair| pair.len() == 2).collect();
    futures_util::future::join_all((0..LANES.min(pairs.len())).map(|lane| {
        let (sent, pairs) = (sent.clone(), &pairs);
        async move {
            let random = |token: &str| {
                client
                    .get(format!("{}/api/match/random/?wait=0", a.url))
                    .bearer_auth(token.to_owned())
            };
            // each lane has pairs of its own: lane, lane + LANES, ...
            let mine: Vec<&[User]> = pairs.iter().skip(lane).step_by(LANES).copied().collect();
            for pair in mine.iter().cycle() {
                if Instant::now() >= until {
                    break;
                }
                let (w, m) = (&pair[0], &pair[1]);
                send(random(&w.token), progress).await;
                let t = Instant::now();
                let Some((200, body)) = send(random(&m.token), progress).await else {
                    continue;
                };
                let Some(id) = body["match_id"].as_i64() else {
                    continue;
                };
                sent.lock().unwrap().insert(id, t);
                let reject = client
                    .post(format!("{}/api/match/decision/", a.url))
                    .bearer_auth(&m.token)
                    .json(&json!({"match_id": id, "decision": "reject"}));
                send(reject, progress).await;
            }
        }
    }))
    .await;
    // the last events are still on their way
    tokio::time::sleep(Duration::from_secs(1)).await;
    shown.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let (mut far, mut near) = (Samples::default(), Samples::default());
    for reader in readers {
        let Ok((on_other, got)) = reader.await else {
            continue;
        };
        for (id, at) in got {
            if let Some(t) = sent.get(&id) {
                let us = at.saturating_duration_since(*t).as_micros() as u64;
                if on_other { &mut far } else { &mut near }.0.push(us);
            }
        }
    }
    let pairs = sent.len() as u64;
    let delivered = (far.0.len() + near.0.len()) as f64;
    Events {
        sockets,
        pairs,
        delivered_ratio: delivered / (2 * pairs).max(1) as f64,
        other_node: far.summary(a.seconds as f64),
        same_node: near.summary(a.seconds as f64),
    }
}

/// Everyone cancels once.
pub async fn cancel_all(
    client: &reqwest::Client,
    a: &Args,
    users: &[User],
    progress: &Arc<Progress>,
) -> Latency {
    let started = Instant::now();
    let mut samples = Samples::default();
    for chunk in users.chunks(64) {
        let done = futures_util::future::join_all(chunk.iter().map(|u| async move {
            let t = Instant::now();
            let req = client
                .post(format!("{}/api/match/cancel/", a.url))
                .bearer_auth(&u.token);
            send(req, progress).await.map(|_| t)
        }))
        .await;
        for t in done.into_iter().flatten() {
            samples.add(t);
        }
    }
    samples.summary(started.elapsed().as_secs_f64())
}
