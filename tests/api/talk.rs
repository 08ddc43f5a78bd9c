//! Talk: voice files, broadcasts, replies, conversations, block and report.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

const FIXTURES: [(&str, &[u8], &str); 6] = [
    (
        "tone.aac",
        include_bytes!("../fixtures/tone.aac"),
        "audio/aac",
    ),
    (
        "tone.m4a",
        include_bytes!("../fixtures/tone.m4a"),
        "audio/mp4",
    ),
    (
        "tone.mp3",
        include_bytes!("../fixtures/tone.mp3"),
        "audio/mpeg",
    ),
    (
        "tone.ogg",
        include_bytes!("../fixtures/tone.ogg"),
        "audio/ogg",
    ),
    (
        "tone.wav",
        include_bytes!("../fixtures/tone.wav"),
        "audio/wav",
    ),
    (
        "tone.webm",
        include_bytes!("../fixtures/tone.webm"),
        "audio/webm",
    ),
];
const LONG_M4A: &[u8] = include_bytes!("../fixtures/long.m4a");
/// 61 s in containers whose header does not give the duration (made once with ffmpeg):
/// ADTS AAC, MP3 without a Xing/Info frame, WebM (Opus).
const LONG_WITHOUT_DURATION: [(&str, &[u8]); 3] = [
    ("long.aac", include_bytes!("../fixtures/long.aac")),
    ("long.mp3", include_bytes!("../fixtures/long.mp3")),
    ("long.webm", include_bytes!("../fixtures/long.webm")),
];

fn m4a() -> Vec<u8> {
    FIXTURES[1].1.to_vec()
}

/// 8 kHz, 8-bit mono WAV of `seconds` of silence.
fn wav(seconds: u32) -> Vec<u8> {
    let samples = 8000 * seconds;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + samples).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&samples.to_le_bytes());
    out.resize(out.len() + samples as usize, 128);
    out
}

fn voice(bytes: Vec<u8>, name: &str) -> Form {
    Form::new().part("voice_file", Part::bytes(bytes).file_name(name.to_owned()))
}

async fn post_form(app: &TestApp, path: &str, token: &str, form: Form) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.at(path))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    parts(res).await
}

async fn broadcast(app: &TestApp, token: &str) -> Value {
    let (status, body) = post_form(app, "/api/broadcasts", token, voice(m4a(), "v.m4a")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["broadcast"].clone()
}

async fn reply(app: &TestApp, token: &str, id: &Value) -> (StatusCode, Value) {
    post_form(
        app,
        &format!("/api/broadcasts/{id}/reply"),
        token,
        voice(m4a(), "r.m4a"),
    )
    .await
}

async fn fetch(
    app: &TestApp,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = app.client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        res.status(),
        content_type,
        res.bytes().await.unwrap().to_vec(),
    )
}

async fn block(app: &TestApp, token: &str, id: i64) -> (StatusCode, Value) {
    app.post(&format!("/users/{id}/block"), Some(token), &json!({}))
        .await
}

#[tokio::test]
async fn every_accepted_format_is_stored_and_served_unchanged() {
    let app = spawn_app().await;
    let (poster, listener) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
    );
    for (name, bytes, content_type) in FIXTURES {
        let (status, body) = post_form(
            &app,
            "/api/broadcasts",
            &poster.token,
            voice(bytes.to_vec(), name),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let b = &body["broadcast"];
        assert_eq!(b["user_id"], poster.id);
        assert_eq!(b["active"], true);
        assert_eq!(b["user"]["nickname"], poster.username.as_str());
        let (status, served_type, served) = fetch(
            &app,
            b["voice_url"].as_str().unwrap(),
            Some(&listener.token),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(served_type.as_deref(), Some(content_type), "{name}");
        assert_eq!(served, bytes, "{name} changed");
    }
}

#[tokio::test]
async fn files_that_are_not_accepted_audio_are_refused() {
    let app = spawn_app().await;
    let m = member(&app, "female", 25).await;
    let not_audio = validation("voice_file: must be AAC, M4A, MP3, Ogg, WAV or WebM audio");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec();
    for (bytes, name) in [
        (png, "voice.m4a"),
        (b"hello, not audio".to_vec(), "voice.mp3"),
        (vec![0xFF, 0xFB, 1, 2, 3], "x.mp3"),
    ] {
        assert_eq!(
            post_form(&app, "/api/broadcasts", &m.token, voice(bytes, name)).await,
            (StatusCode::UNPROCESSABLE_ENTITY, not_audio.clone())
        );
    }
    let (status, body) = post_form(
        &app,
        "/api/broadcasts",
        &m.token,
        Form::new().text("note", "no file"),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("voice_file: required")
        )
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM broadcasts")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn voice_files_over_sixty_seconds_are_refused() {
    let app = spawn_app().await;
    let m = member(&app, "female", 25).await;
    let too_long = (
        StatusCode::UNPROCESSABLE_ENTITY,
        validation("voice_file: at most 60 seconds"),
    );
    assert_eq!(
        post_form(
            &app,
            "/api/broadcasts",
            &m.token,
            voice(LONG_M4A.to_vec(), "long.m4a")
        )
        .await,
        too_long
    );
    assert_eq!(
        post_form(
            &app,
            "/api/broadcasts",
            &m.token,
            voice(wav(61), "long.wav")
        )
        .await,
        too_long
    );
    assert_eq!(
        post_form(
            &app,
            "/api/broadcasts",
            &m.token,
            voice(wav(60), "edge.wav")
        )
        .await
        .0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_sixty_second_limit_holds_where_the_header_has_no_duration() {
    let app = spawn_app().await;
    let m = member(&app, "female", 25).await;
    for (name, bytes) in LONG_WITHOUT_DURATION {
        assert_eq!(
            post_form(
                &app,
                "/api/broadcasts",
                &m.token,
                voice(bytes.to_vec(), name)
            )
            .await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                validation("voice_file: at most 60 seconds")
            ),
            "{name}"
        );
    }
    // the short ones of the same formats still pass, with their duration counted
    for (name, bytes, _) in [FIXTURES[0], FIXTURES[2], FIXTURES[5]] {
        let (status, body) = post_form(
            &app,
            "/api/broadcasts",
            &m.token,
            voice(bytes.to_vec(), name),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let ms = body["broadcast"]["duration_ms"].as_i64().unwrap();
        assert!((500..=5000).contains(&ms), "{name}: {ms} ms");
    }
}

#[tokio::test]
async fn uploads_over_ten_megabytes_are_413() {
    let app = spawn_app().await;
    let m = member(&app, "female", 25).await;
    let mut big = wav(1);
    big.resize(10 * 1024 * 1024 + 1, 0);
    assert_eq!(
        post_form(&app, "/api/broadcasts", &m.token, voice(big, "big.wav")).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "Payload too large", "code": "payload_too_large"})
        )
    );
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_oversized_upload_is_refused_without_reading_it_into_memory() {
    let app = spawn_app().await;
    let server = spawn_process(&app).await;
    let m = member(&app, "female", 25).await;
    let before = rss_kb(server.pid());
    // 64 MB, streamed without a length: the server must stop reading at the limit
    let chunk = bytes::Bytes::from(vec![0u8; 1024 * 1024]);
    let head =
        "--b\r\nContent-Disposition: form-data; name=\"voice_file\"; filename=\"x.wav\"\r\n\r\n";
    let chunks = std::iter::once(bytes::Bytes::from(head)).chain(std::iter::repeat_n(chunk, 64));
    let stream = futures_util::stream::iter(chunks.map(Ok::<_, std::io::Error>));
    let res = app
        .client
        .post(format!("{}/api/broadcasts", server.url))
        .bearer_auth(&m.token)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let grown_mb = rss_kb(server.pid()).saturating_sub(before) / 1024;
    assert!(grown_mb < 32, "the server grew by {grown_mb} MB");
}

#[tokio::test]
async fn the_list_shows_live_broadcasts_of_others_newest_first() {
    let app = spawn_app_with(&[("BROADCAST_TTL_SEC", "2")]).await;
    let (me, a, b, blocked, blocker) = (
        member(&app, "male", 30).await,
        member(&app, "female", 25).await,
        member(&app, "female", 26).await,
        member(&app, "female", 27).await,
        member(&app, "female", 28).await,
    );
    let first = broadcast(&app, &a.token).await;
    let second = broadcast(&app, &b.token).await;
    broadcast(&app, &me.token).await;
    broadcast(&app, &blocked.token).await;
    broadcast(&app, &blocker.token).await;
    block(&app, &me.token, blocked.id).await;
    block(&app, &blocker.token, me.id).await;
    let (status, list) = app.get("/api/broadcasts", Some(&me.token)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&Value> = list.as_array().unwrap().iter().map(|b| &b["id"]).collect();
    assert_eq!(ids, [&second["id"], &first["id"]]);
    assert_eq!(
        list[0]["user"],
        json!({"id": b.id, "nickname": b.username, "gender": "female"})
    );
    let (_, page) = app
        .get(
            &format!("/api/broadcasts?limit=1&before={}", second["id"]),
            Some(&me.token),
        )
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["id"], first["id"]);
    // once expired, nobody lists them
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.get("/api/broadcasts", Some(&me.token)).await.1,
        json!([])
    );
}

#[tokio::test]
async fn detail_and_voice_follow_the_same_visibility() {
    let app = spawn_app_with(&[("BROADCAST_TTL_SEC", "2")]).await;
    let (owner, other, enemy) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
        member(&app, "male", 31).await,
    );
    let b = broadcast(&app, &owner.token).await;
    let (path, url) = (
        format!("/api/broadcasts/{}", b["id"]),
        b["voice_url"].as_str().unwrap().to_owned(),
    );
    assert_eq!(app.get(&path, Some(&other.token)).await.1["id"], b["id"]);
    assert_eq!(fetch(&app, &url, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        fetch(&app, &format!("{url}?token={}", other.token), None)
            .await
            .0,
        StatusCode::OK
    );
    block(&app, &owner.token, enemy.id).await;
    let gone = (
        StatusCode::NOT_FOUND,
        json!({"error": "Resource not found", "code": "not_found"}),
    );
    assert_eq!(app.get(&path, Some(&enemy.token)).await, gone);
    assert_eq!(
        fetch(&app, &url, Some(&enemy.token)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/broadcasts/999999", Some(&other.token)).await,
        gone
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.get(&path, Some(&other.token)).await, gone);
    assert_eq!(
        fetch(&app, &url, Some(&other.token)).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, own) = app.get(&path, Some(&owner.token)).await;
    assert_eq!(
        (status, own["active"].clone()),
        (StatusCode::OK, json!(false))
    );
}

#[tokio::test]
async fn broadcasts_per_day_are_limited() {
    let app = spawn_app_with(&[("BROADCAST_DAILY_LIMIT", "2")]).await;
    let m = member(&app, "female", 25).await;
    broadcast(&app, &m.token).await;
    broadcast(&app, &m.token).await;
    let (status, body) = post_form(&app, "/api/broadcasts", &m.token, voice(m4a(), "v.m4a")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body["error"],
        "오늘 올릴 수 있는 브로드캐스트를 모두 올렸습니다."
    );
    assert!(body["wait_seconds"].as_u64().unwrap() > 86000);
    // nothing of the refused upload stays on disk
    assert_eq!(
        std::fs::read_dir(app.media.join("voices")).unwrap().count(),
        2
    );
}

#[tokio::test]
async fn a_reply_opens_one_conversation_and_tells_the_broadcaster() {
    let app = spawn_app().await;
    let (owner, fan) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
    );
    let mut socket = websocket(&app.url, &owner.token).await;
    let b = broadcast(&app, &owner.token).await;
    let (status, body) = reply(&app, &fan.token, &b["id"]).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["message"], "답장 완료");
    let conversation = body["conversation_id"].as_i64().unwrap();
    let event = next_event(&mut socket, "broadcast_reply").await;
    assert_eq!(event["broadcast_id"], b["id"]);
    assert_eq!(event["conversation_id"], conversation);
    assert_eq!(event["from"]["id"], fan.id);
    // concurrent replies of the same user land in the same conversation
    let replies =
        futures_util::future::join_all((0..5).map(|_| reply(&app, &fan.token, &b["id"]))).await;
    for (status, body) in replies {
        assert_eq!(
            (status, body["conversation_id"].as_i64()),
            (StatusCode::CREATED, Some(conversation))
        );
    }
    let (conversations, messages): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!((conversations, messages), (1, 6));
}

#[tokio::test]
async fn own_expired_blocked_or_missing_broadcasts_cannot_be_answered() {
    let app = spawn_app_with(&[("BROADCAST_TTL_SEC", "1")]).await;
    let (owner, fan, enemy) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
        member(&app, "male", 31).await,
    );
    let b = broadcast(&app, &owner.token).await;
    assert_eq!(
        reply(&app, &owner.token, &b["id"]).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("broadcast: you cannot reply to your own broadcast")
        )
    );
    block(&app, &enemy.token, owner.id).await;
    assert_eq!(
        reply(&app, &enemy.token, &b["id"]).await,
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Unauthorized access", "code": "forbidden"})
        )
    );
    assert_eq!(
        reply(&app, &fan.token, &json!(999999)).await.0,
        StatusCode::NOT_FOUND
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        reply(&app, &fan.token, &b["id"]).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("broadcast: it has expired")
        )
    );
}

/// A conversation between two fresh members, opened by a reply: (owner, fan, id).
async fn conversation(app: &TestApp) -> (Member, Member, i64) {
    let (owner, fan) = (
        member(app, "female", 25).await,
        member(app, "male", 30).await,
    );
    let b = broadcast(app, &owner.token).await;
    let id = reply(app, &fan.token, &b["id"]).await.1["conversation_id"]
        .as_i64()
        .unwrap();
    (owner, fan, id)
}

async fn send(app: &TestApp, token: &str, id: i64) -> (StatusCode, Value) {
    post_form(
        app,
        &format!("/api/conversations/{id}/send_message"),
        token,
        voice(m4a(), "m.m4a"),
    )
    .await
}

#[tokio::test]
async fn conversations_list_unread_counts_and_reading() {
    let app = spawn_app().await;
    let (owner, fan, id) = conversation(&app).await;
    send(&app, &fan.token, id).await;
    let (status, list) = app.get("/api/conversations", Some(&owner.token)).await;
    assert_eq!(status, StatusCode::OK);
    let item = &list[0];
    assert_eq!(item["id"], id);
    assert_eq!(item["unread_count"], 2);
    assert_eq!(item["favorite"], false);
    assert_eq!(
        (item["user_a_id"].as_i64(), item["user_b_id"].as_i64()),
        (Some(owner.id.min(fan.id)), Some(owner.id.max(fan.id)))
    );
    let partner = if item["user_a"]["id"] == fan.id {
        &item["user_a"]
    } else {
        &item["user_b"]
    };
    assert_eq!(partner["nickname"], fan.username.as_str());
    assert!(item["last_message_at"].is_string());
    // opening it marks the partner's messages read, for the viewer only
    let (status, detail) = app
        .get(&format!("/api/conversations/{id}"), Some(&owner.token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["conversation"]["id"], id);
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert!(
        messages
            .iter()
            .all(|m| m["read"] == true && m["sender"]["id"] == fan.id)
    );
    assert!(
        messages[0]["id"].as_i64() > messages[1]["id"].as_i64(),
        "newest first"
    );
    assert_eq!(
        app.get("/api/conversations", Some(&owner.token)).await.1[0]["unread_count"],
        0
    );
    send(&app, &owner.token, id).await;
    assert_eq!(
        app.get("/api/conversations", Some(&fan.token)).await.1[0]["unread_count"],
        1
    );
    // favorite is per viewer
    let (status, body) = app
        .post(
            &format!("/api/conversations/{id}/favorite"),
            Some(&owner.token),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"message": "즐겨찾기 등록 완료"}))
    );
    assert_eq!(
        app.get("/api/conversations", Some(&owner.token)).await.1[0]["favorite"],
        true
    );
    assert_eq!(
        app.get("/api/conversations", Some(&fan.token)).await.1[0]["favorite"],
        false
    );
    let (status, body) = app
        .post(
            &format!("/api/conversations/{id}/unfavorite"),
            Some(&owner.token),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"message": "즐겨찾기 해제 완료"}))
    );
    assert_eq!(
        app.get("/api/conversations", Some(&owner.token)).await.1[0]["favorite"],
        false
    );
}

#[tokio::test]
async fn messages_reach_the_partner_across_nodes_and_only_participants_hear_them() {
    let app = spawn_app().await;
    let other = spawn_node(&app, &[]).await;
    let (owner, fan, id) = conversation(&app).await;
    let mut socket = websocket(&other.url, &owner.token).await;
    let (status, body) = send(&app, &fan.token, id).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["message"], "메시지 전송 완료");
    let event = next_event(&mut socket, "new_message").await;
    assert_eq!(
        (event["conversation_id"].as_i64(), &event["message_id"]),
        (Some(id), &body["message_id"])
    );
    assert_eq!(event["sender"]["id"], fan.id);
    let url = event["voice_url"].as_str().unwrap();
    let (status, _, bytes) = fetch(&app, url, Some(&owner.token)).await;
    assert_eq!((status, bytes), (StatusCode::OK, m4a()));
    let outsider = member(&app, "male", 40).await;
    let denied = (
        StatusCode::FORBIDDEN,
        json!({"error": "Unauthorized access", "code": "forbidden"}),
    );
    assert_eq!(
        fetch(&app, url, Some(&outsider.token)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/api/conversations/{id}"), Some(&outsider.token))
            .await,
        denied
    );
    assert_eq!(send(&app, &outsider.token, id).await, denied);
    assert_eq!(
        app.post(
            &format!("/api/conversations/{id}/favorite"),
            Some(&outsider.token),
            &json!({})
        )
        .await,
        denied
    );
    let res = app
        .client
        .delete(app.at(&format!("/api/conversations/{id}")))
        .bearer_auth(&outsider.token)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(res).await, denied);
    let missing = (
        StatusCode::NOT_FOUND,
        json!({"error": "Resource not found", "code": "not_found"}),
    );
    assert_eq!(
        app.get("/api/conversations/999999", Some(&owner.token))
            .await,
        missing
    );
    assert_eq!(send(&app, &owner.token, 999999).await, missing);
}

#[tokio::test]
async fn deleting_hides_for_the_deleter_closes_for_both_and_both_deleting_removes_the_files() {
    let app = spawn_app().await;
    let (owner, fan, id) = conversation(&app).await;
    let res = app
        .client
        .delete(app.at(&format!("/api/conversations/{id}")))
        .bearer_auth(&fan.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(res).await,
        (
            StatusCode::OK,
            json!({"message": "대화방이 삭제되었습니다."})
        )
    );
    assert_eq!(
        app.get("/api/conversations", Some(&fan.token)).await.1,
        json!([])
    );
    assert_eq!(
        app.get(&format!("/api/conversations/{id}"), Some(&fan.token))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, still) = app
        .get(&format!("/api/conversations/{id}"), Some(&owner.token))
        .await;
    assert_eq!(
        (status, still["conversation"]["active"].clone()),
        (StatusCode::OK, json!(false))
    );
    let closed = (
        StatusCode::FORBIDDEN,
        json!({"error": "Unauthorized access", "code": "forbidden"}),
    );
    assert_eq!(send(&app, &owner.token, id).await, closed);
    assert_eq!(send(&app, &fan.token, id).await, closed);
    let voices = app.media.join("voices");
    let before = std::fs::read_dir(&voices).unwrap().count();
    let res = app
        .client
        .delete(app.at(&format!("/api/conversations/{id}")))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        std::fs::read_dir(&voices).unwrap().count(),
        before - 1,
        "the reply's file stays"
    );
}

#[tokio::test]
async fn a_block_hides_the_conversation_and_stops_messages_both_ways_until_unblocked() {
    let app = spawn_app().await;
    let (owner, fan, id) = conversation(&app).await;
    let (status, first) = block(&app, &owner.token, fan.id).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["message"], "차단 완료");
    assert_eq!(
        (
            first["block"]["blocker_id"].as_i64(),
            first["block"]["blocked_id"].as_i64()
        ),
        (Some(owner.id), Some(fan.id))
    );
    // idempotent, under either path
    let (status, again) = app
        .post(
            &format!("/api/users/{}/block", fan.id),
            Some(&owner.token),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, &again["block"]["id"]),
        (StatusCode::OK, &first["block"]["id"])
    );
    for who in [&owner, &fan] {
        assert_eq!(
            send(&app, &who.token, id).await,
            (
                StatusCode::FORBIDDEN,
                json!({"error": "Unauthorized access", "code": "forbidden"})
            )
        );
        assert_eq!(
            app.get("/api/conversations", Some(&who.token)).await.1,
            json!([])
        );
        assert_eq!(
            app.get(&format!("/api/conversations/{id}"), Some(&who.token))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
    let unblocked = (StatusCode::OK, json!({"message": "차단 해제 완료"}));
    assert_eq!(
        app.post(
            &format!("/users/{}/unblock", fan.id),
            Some(&owner.token),
            &json!({})
        )
        .await,
        unblocked
    );
    assert_eq!(
        app.post(
            &format!("/api/users/{}/unblock", fan.id),
            Some(&owner.token),
            &json!({})
        )
        .await,
        unblocked
    );
    assert_eq!(send(&app, &fan.token, id).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn block_and_report_refuse_oneself_and_unknown_users() {
    let app = spawn_app().await;
    let m = member(&app, "male", 30).await;
    assert_eq!(
        block(&app, &m.token, m.id).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("user: you cannot block yourself")
        )
    );
    assert_eq!(
        block(&app, &m.token, 999_999).await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "not_found"})
        )
    );
    let (status, body) = app
        .post(
            &format!("/users/{}/report", m.id),
            Some(&m.token),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("user: you cannot report yourself")
        )
    );
    assert_eq!(
        block(&app, "bad-token", m.id).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn reports_take_a_reason_of_one_to_five_hundred_characters() {
    let app = spawn_app().await;
    let (me, them) = (
        member(&app, "male", 30).await,
        member(&app, "female", 30).await,
    );
    let path = format!("/api/users/{}/report", them.id);
    let bad = (
        StatusCode::UNPROCESSABLE_ENTITY,
        validation("reason: must be 1 to 500 characters"),
    );
    assert_eq!(
        app.post(&path, Some(&me.token), &json!({"reason": ""}))
            .await,
        bad
    );
    assert_eq!(
        app.post(&path, Some(&me.token), &json!({"reason": "   "}))
            .await,
        bad
    );
    assert_eq!(
        app.post(&path, Some(&me.token), &json!({"reason": "가".repeat(501)}))
            .await,
        bad
    );
    let (status, body) = app
        .post(&path, Some(&me.token), &json!({"reason": "부적절한 내용"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["message"], "신고 완료");
    assert_eq!(body["report"]["reason"], "부적절한 내용");
    assert_eq!(
        (
            body["report"]["reporter_id"].as_i64(),
            body["report"]["reported_id"].as_i64()
        ),
        (Some(me.id), Some(them.id))
    );
    let (status, _) = app
        .post(
            &format!("/users/{}/report", them.id),
            Some(&me.token),
            &json!({"reason": "가".repeat(500)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.post(&path, Some(&me.token), &json!({})).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("missing field `reason`")
        )
    );
}

#[tokio::test]
async fn files_of_expired_broadcasts_are_cleaned_up() {
    let app = spawn_app_with(&[
        ("BROADCAST_TTL_SEC", "1"),
        ("MEDIA_CLEANUP_INTERVAL_SEC", "1"),
    ])
    .await;
    let m = member(&app, "female", 25).await;
    broadcast(&app, &m.token).await;
    let voices = app.media.join("voices");
    assert_eq!(std::fs::read_dir(&voices).unwrap().count(), 1);
    let files = || std::future::ready(std::fs::read_dir(&voices).unwrap().count());
    assert_eq!(
        eventually(files, |&n| n == 0).await,
        0,
        "the expired file is still there"
    );
}
