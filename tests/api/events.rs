//! Events between nodes: resuming after a reconnection (SSE `Last-Event-ID`,
//! WS `?last_event_id=`), a bus that loses its connection, and sharded
//! channels on a Redis Cluster (this file also runs against one).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;
use crate::realtime::{close_code, sse_after};

/// An event of a made-up type for `uid`, numbered `n`.
async fn send(app: &TestApp, uid: i64, n: u32) {
    let event = json!({"type": "note", "n": n}).to_string();
    voxmatch::realtime::bus::publish(&app.state.redis, &[uid], &event)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stream_outlives_its_last_event_by_five_minutes_and_its_expiry_is_pushed_only_when_short()
{
    use fred::prelude::KeysInterface;
    let app = spawn_app().await;
    let user = app.signup().await;
    let stream = app.state.redis.keys.user_events(user.id);
    let ttl = || async {
        let ms: i64 = app.state.redis.pool.pttl(&stream).await.unwrap();
        ms
    };
    send(&app, user.id, 1).await;
    let first = ttl().await;
    assert!((300_000..=600_000).contains(&first), "{first} ms");
    // nearly gone: the next event keeps the stream 5 minutes more at least
    let _: bool = app
        .state
        .redis
        .pool
        .pexpire(&stream, 1000, None)
        .await
        .unwrap();
    send(&app, user.id, 2).await;
    let renewed = ttl().await;
    assert!(renewed > 300_000, "{renewed} ms");
    // far from gone: the next event leaves the expiry as it is
    let _: bool = app
        .state
        .redis
        .pool
        .pexpire(&stream, 400_000, None)
        .await
        .unwrap();
    send(&app, user.id, 3).await;
    let kept = ttl().await;
    assert!(kept <= 400_000, "{kept} ms");
}

/// The `n` of the next `note` events of a WebSocket, with their ids, until `count`.
async fn notes(socket: &mut Socket, count: usize) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let wait = async {
        while out.len() < count {
            let text = match socket.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                other => panic!("socket closed: {other:?}"),
            };
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == "note" {
                out.push((
                    event["event_id"].as_str().unwrap().to_owned(),
                    event["n"].as_u64().unwrap(),
                ));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("events in time");
    out
}

/// No further `note` arrives within half a second.
async fn no_more_notes(socket: &mut Socket) {
    let more = tokio::time::timeout(Duration::from_millis(500), notes(socket, 1)).await;
    assert!(more.is_err(), "a repeated or unexpected event: {more:?}");
}

#[tokio::test]
async fn sse_resumes_after_last_event_id_in_order_and_once() {
    let app = spawn_app().await;
    let user = member(&app, "female", 30).await;
    let mut first = sse_after(&app, &app.url, &user.token, None).await;
    send(&app, user.id, 1).await;
    send(&app, user.id, 2).await;
    let (id1, e1) = first.next_with_id("note").await;
    let (id2, _) = first.next_with_id("note").await;
    assert_eq!(e1["n"], 1);
    assert!(!id1.is_empty() && id1 != id2);
    drop(first);
    // missed while away
    send(&app, user.id, 3).await;
    send(&app, user.id, 4).await;
    let mut again = sse_after(&app, &app.url, &user.token, Some(&id1)).await;
    for n in [2, 3, 4] {
        assert_eq!(again.next_with_id("note").await.1["n"], n);
    }
    send(&app, user.id, 5).await;
    let (_, live) = again.next_with_id("note").await;
    assert_eq!(live["n"], 5, "each event once, then the live ones");
}

#[tokio::test]
async fn a_websocket_resumes_after_last_event_id_across_nodes() {
    let app = spawn_app().await;
    let other = spawn_node(&app, &[]).await;
    let user = member(&app, "male", 30).await;
    let mut socket = websocket(&app.url, &user.token).await;
    send(&app, user.id, 1).await;
    let seen = notes(&mut socket, 1).await;
    drop(socket);
    send(&other, user.id, 2).await;
    send(&other, user.id, 3).await;
    let url = format!(
        "{}/ws?token={}&last_event_id={}",
        other.url.replacen("http", "ws", 1),
        user.token,
        seen[0].0
    );
    let mut resumed = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let got: Vec<u64> = notes(&mut resumed, 2)
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(got, [2, 3]);
    no_more_notes(&mut resumed).await;
}

/// Cuts the node's event-bus connections, as a failover or a network blip would.
async fn cut_bus(app: &TestApp) {
    use fred::prelude::ClientLike;
    let name = format!("name={}", app.state.hub.bus().connection_name());
    let client = app.state.redis.pool.next();
    let nodes = if app.state.redis.clustered {
        client.split_cluster().unwrap()
    } else {
        vec![client.clone()]
    };
    let mut cut = 0;
    for node in nodes {
        if app.state.redis.clustered {
            node.init().await.unwrap();
        }
        let list: String = node
            .custom(fred::cmd!("CLIENT"), vec!["LIST"])
            .await
            .unwrap();
        for line in list.lines().filter(|l| l.split(' ').any(|f| f == name)) {
            let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
            let _: i64 = node
                .custom(fred::cmd!("CLIENT"), vec!["KILL", "ID", id])
                .await
                .unwrap();
            cut += 1;
        }
    }
    assert!(cut >= 1, "no connection named {name}");
}

#[tokio::test]
async fn a_bus_that_lost_its_connection_renews_it_and_delivers_what_came_meanwhile() {
    let app = spawn_app().await;
    let user = member(&app, "female", 30).await;
    let mut socket = websocket(&app.url, &user.token).await;
    send(&app, user.id, 0).await;
    notes(&mut socket, 1).await;
    cut_bus(&app).await;
    // published while the node is not listening (it reconnects after 100 ms)
    for n in 1..=10 {
        send(&app, user.id, n).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got: Vec<u64> = notes(&mut socket, 10)
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(got, (1..=10).collect::<Vec<_>>(), "in order, each once");
    no_more_notes(&mut socket).await;
    let metrics = app.metrics().await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .map_or(0.0, |v| v.parse().unwrap())
    };
    assert!(value("event_bus_resubscribes_total") >= 1.0, "{metrics}");
    assert!(value("events_recovered_total") >= 1.0, "{metrics}");
    // the subscriptions were renewed: what comes now arrives live
    send(&app, user.id, 11).await;
    assert_eq!(notes(&mut socket, 1).await[0].1, 11);
}

#[tokio::test]
async fn a_burst_that_outruns_the_bus_buffer_is_read_back_from_the_streams() {
    use voxmatch::realtime::bus::{Invalidation, invalidate};
    let app = spawn_app_with(&[("EVENT_BUS_BUFFER", "1")]).await;
    let user = member(&app, "female", 30).await;
    let mut socket = websocket(&app.url, &user.token).await;
    send(&app, user.id, 0).await;
    notes(&mut socket, 1).await;
    // the user's 50 events in the middle of 2,000 messages for nobody, all at once
    let noise = || (0..1_000).map(|_| invalidate(&app.state.redis, Invalidation::Users(vec![-1])));
    let (before, _, after) = tokio::join!(
        futures_util::future::join_all(noise()),
        futures_util::future::join_all((1..=50).map(|n| send(&app, user.id, n))),
        futures_util::future::join_all(noise()),
    );
    for sent in before.into_iter().chain(after) {
        sent.unwrap();
    }
    let got = notes(&mut socket, 50).await;
    let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    let mut ordered = ids.clone();
    ordered.sort_by_key(|id| voxmatch::realtime::event::stream_position(id));
    assert_eq!(ids, ordered, "in the stream's order");
    let mut ns: Vec<u64> = got.iter().map(|(_, n)| *n).collect();
    ns.sort_unstable();
    assert_eq!(ns, (1..=50).collect::<Vec<_>>(), "each once");
    no_more_notes(&mut socket).await;
    assert!(
        app.counter("event_bus_lagged_total").await > 0.0,
        "the burst never outran a buffer of one"
    );
    assert!(app.counter("events_recovered_total").await >= 1.0);
}

#[tokio::test]
async fn a_logout_the_bus_missed_still_closes_the_sessions_websocket() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let mut socket = websocket(&app.url, &user.access).await;
    send(&app, user.id, 0).await;
    notes(&mut socket, 1).await;
    cut_bus(&app).await;
    // revoked while the node is not listening (it reconnects after 100 ms)
    let (status, _) = app.logout(&user).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(close_code(&mut socket).await, Some(4001));
    // read back, not heard live after the reconnection
    assert!(app.counter("events_recovered_total").await >= 1.0);
}

#[tokio::test]
async fn a_resumed_websocket_is_never_sent_nor_closed_by_another_sessions_revocation() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let (_, second) = app.login(&user.username, &user.password).await;
    let token = second["access"].as_str().unwrap();
    let mut socket = websocket(&app.url, token).await;
    send(&app, user.id, 1).await;
    let seen = notes(&mut socket, 1).await;
    drop(socket);
    // the first session's revocation, kept in the stream between the two notes
    assert_eq!(app.logout(&user).await.0, reqwest::StatusCode::OK);
    send(&app, user.id, 2).await;
    let url = format!(
        "{}/ws?token={token}&last_event_id={}",
        app.url.replacen("http", "ws", 1),
        seen[0].0
    );
    let mut resumed = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let first = tokio::time::timeout(Duration::from_secs(10), resumed.next())
        .await
        .expect("an event in time");
    let Some(Ok(Message::Text(text))) = first else {
        panic!("not an event: {first:?}");
    };
    let event: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((&event["type"], &event["n"]), (&json!("note"), &json!(2)));
    resumed
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    assert_eq!(next_event(&mut resumed, "pong").await["type"], "pong");
}

/// Calls of a Redis command so far, summed over every master.
async fn command_calls(app: &TestApp, command: &str) -> u64 {
    use fred::prelude::ClientLike;
    let client = app.state.redis.pool.next();
    let nodes = if app.state.redis.clustered {
        client.split_cluster().unwrap()
    } else {
        vec![client.clone()]
    };
    let mut calls = 0;
    for node in nodes {
        if app.state.redis.clustered {
            node.init().await.unwrap();
        }
        let info: String = node
            .custom(fred::cmd!("INFO"), vec!["commandstats"])
            .await
            .unwrap();
        calls += info
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap());
    }
    calls
}

#[tokio::test]
async fn on_a_cluster_a_node_hears_only_its_own_users_events_through_sharded_channels() {
    let app = spawn_app().await;
    let other = spawn_node(&app, &[]).await;
    let user = member(&app, "female", 30).await;
    let mut socket = websocket(&app.url, &user.token).await;
    let plain_before = command_calls(&app, "publish").await;
    let (heard_before, unneeded_before) = (
        other.counter("events_received_total").await,
        other.counter("events_unneeded_total").await,
    );
    for n in 1..=5 {
        send(&other, user.id, n).await;
    }
    let got: Vec<u64> = notes(&mut socket, 5)
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(got, [1, 2, 3, 4, 5]);
    if app.state.redis.clustered {
        let heard = other.counter("events_received_total").await - heard_before;
        let unneeded = other.counter("events_unneeded_total").await - unneeded_before;
        // the other node serves nobody concerned: it hears nothing
        assert_eq!((heard, unneeded), (0.0, 0.0));
        assert_eq!(app.counter("events_unneeded_total").await, 0.0);
        assert_eq!(
            command_calls(&app, "publish").await,
            plain_before,
            "a plain PUBLISH on the Cluster"
        );
        assert!(command_calls(&app, "spublish").await >= 5);
    } else {
        // one channel: every node hears every event, needed or not (the other
        // node's reader may still be on its way to the fifth)
        let heard = eventually(
            || other.counter("events_received_total"),
            |n| n - heard_before >= 5.0,
        )
        .await
            - heard_before;
        let unneeded = eventually(
            || other.counter("events_unneeded_total"),
            |n| n - unneeded_before >= 5.0,
        )
        .await
            - unneeded_before;
        assert!(heard >= 5.0 && unneeded >= 5.0, "{heard} {unneeded}");
        assert!(command_calls(&app, "publish").await >= plain_before + 5);
    }
}
