//! Matching: settings, pairing rules, decisions, cancel, ghosts, ids.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use fred::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn match_id(body: &Value) -> i64 {
    body["match_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no match_id in {body}"))
}

#[tokio::test]
async fn settings_are_validated_at_and_past_each_edge() {
    let app = spawn_app().await;
    let m = member(&app, "male", 30).await;
    let cases = [
        (
            json!({"age_range": [17, 30]}),
            "age_range: must be [min, max] with 18 <= min <= max <= 100",
        ),
        (
            json!({"age_range": [18, 101]}),
            "age_range: must be [min, max] with 18 <= min <= max <= 100",
        ),
        (
            json!({"age_range": [40, 39]}),
            "age_range: must be [min, max] with 18 <= min <= max <= 100",
        ),
        (json!({"age_range": [20]}), "age_range: must be [min, max]"),
        (
            json!({"radius_km": 20001, "location": {"lat": 37.5, "lng": 127.0}}),
            "radius_km: must be 1 to 20000, or null/0",
        ),
        (
            json!({"radius_km": -1, "location": {"lat": 37.5, "lng": 127.0}}),
            "radius_km: must be 1 to 20000, or null/0",
        ),
        (
            json!({"radius_km": 5}),
            "radius_km: a radius needs a location",
        ),
        (
            json!({"location": {"lat": 86.0, "lng": 0.0}}),
            "location: lat must be within ±85.05 and lng within ±180",
        ),
        (
            json!({"preferred_gender": "robots"}),
            "preferred_gender: unknown variant `robots`, expected one of `male`, `female`, `all`",
        ),
        (
            json!({"age_range": "young"}),
            "age_range: invalid type: string \"young\", expected a sequence",
        ),
        (json!({"region": "mars"}), "region: must be one of global"),
    ];
    for (body, details) in cases {
        let (status, answer) = app.settings(&m.token, body.clone()).await;
        assert_eq!(
            (status, answer),
            (StatusCode::UNPROCESSABLE_ENTITY, validation(details)),
            "{body}"
        );
    }
    let body = json!({"preferred_gender": "female", "age_range": [18, 100], "radius_km": 20000,
                      "location": {"lat": 37.5665, "lng": 126.978}});
    let (status, answer) = app.settings(&m.token, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::OK,
            json!({"message": "매칭 조건이 저장되었습니다."})
        )
    );
    let (_, saved) = app.get("/api/match/settings/", Some(&m.token)).await;
    assert_eq!(saved["preferred_gender"], "female");
    assert_eq!(saved["age_range"], json!([18, 100]));
    assert_eq!(saved["radius_km"], 20000);
    // fields left out keep their value; 0 clears the radius
    app.settings(&m.token, json!({"radius_km": 0})).await;
    let (_, saved) = app.get("/api/match/settings/", Some(&m.token)).await;
    assert_eq!(
        (
            saved["radius_km"].clone(),
            saved["preferred_gender"].clone()
        ),
        (Value::Null, json!("female"))
    );
}

#[tokio::test]
async fn a_waiting_user_is_matched_with_the_next_compatible_arrival() {
    let app = spawn_app().await;
    let a = member(&app, "female", 24).await;
    let b = member(&app, "male", 31).await;
    let (status, waiting) = app.random(&a.token, 0).await;
    assert_eq!(
        (status, &waiting["status"]),
        (StatusCode::ACCEPTED, &json!("waiting"))
    );
    let (status, body) = app.random(&b.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["show_time_sec"], 10);
    assert_eq!(
        body["matched_user"],
        json!({"id": a.id, "username": a.username, "age": 24, "gender": "female", "profile_image": null,
               "rating": 0.0, "languages": [], "interests": [], "shared_interests": []})
    );
    // the waiting side, polling again, gets the same match until it is decided
    let (status, again) = app.random(&a.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(match_id(&again), match_id(&body));
    assert_eq!(again["matched_user"]["username"], b.username.as_str());
}

#[tokio::test]
async fn a_long_poll_is_answered_the_moment_a_partner_arrives() {
    let app = spawn_app().await;
    let a = member(&app, "female", 24).await;
    let b = member(&app, "male", 31).await;
    let waiting = app.random(&a.token, 10);
    let arriving = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.random(&b.token, 0).await
    };
    let started = std::time::Instant::now();
    let ((sa, ba), (sb, bb)) = tokio::join!(waiting, arriving);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!((sa, sb), (StatusCode::OK, StatusCode::OK));
    assert_eq!(match_id(&ba), match_id(&bb));
    assert_eq!(ba["matched_user"]["id"], b.id);
    assert_eq!(bb["matched_user"]["id"], a.id);
}

#[tokio::test]
async fn random_checks_its_query() {
    let app = spawn_app().await;
    let a = member(&app, "female", 24).await;
    let (status, body) = app.random(&a.token, 61).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("wait: must be 0 to 60")
        )
    );
    let (status, body) = app
        .get("/api/match/random/?wait=soon", Some(&a.token))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("wait: invalid digit found in string")
        )
    );
    let (status, body) = app
        .get("/api/match/random/?wait=0&lat=37.5", Some(&a.token))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("lat, lng: give both or neither")
        )
    );
    let (status, _) = app.get("/api/match/random/", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // phone accounts without age or gender cannot be matched
    let id: i64 = sqlx::query_scalar("INSERT INTO users (phone_number, nickname, password_hash) VALUES ('01011112222', 'n', 'x') RETURNING id")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let token = app
        .state
        .tokens
        .start_session(&app.state.redis, id)
        .await
        .unwrap()
        .access;
    let (status, body) = app.random(&token, 0).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("age, gender: both are needed for matching")
        )
    );
}

/// Pairs two fresh members and returns them with the match id.
async fn paired(app: &TestApp) -> (Member, Member, i64) {
    let a = member(app, "female", 24).await;
    let b = member(app, "male", 31).await;
    app.random(&a.token, 0).await;
    let (status, body) = app.random(&b.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    let id = match_id(&body);
    (a, b, id)
}

#[tokio::test]
async fn both_accepting_is_matched_for_both() {
    let app = spawn_app().await;
    let (a, b, id) = paired(&app).await;
    let (ra, rb) = tokio::join!(app.decide(&a.token, id, "accept"), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.decide(&b.token, id, "accept").await
    });
    assert_eq!(ra, (StatusCode::OK, json!({"status": "matched"})));
    assert_eq!(rb, (StatusCode::OK, json!({"status": "matched"})));
    // deciding again tells the outcome again
    assert_eq!(
        app.decide(&a.token, id, "reject").await,
        (StatusCode::OK, json!({"status": "matched"}))
    );
}

#[tokio::test]
async fn a_reject_ends_the_match_for_both_at_once() {
    let app = spawn_app().await;
    let (a, b, id) = paired(&app).await;
    let started = std::time::Instant::now();
    let (ra, rb) = tokio::join!(app.decide(&a.token, id, "accept"), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.decide(&b.token, id, "reject").await
    });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the accepting side did not wait for the deadline"
    );
    assert_eq!(ra, (StatusCode::OK, json!({"status": "next"})));
    assert_eq!(rb, (StatusCode::OK, json!({"status": "next"})));
    // the match is over: polling again finds nothing pending
    assert_eq!(app.random(&a.token, 0).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn undecided_at_the_deadline_counts_as_reject() {
    let app = spawn_app_with(&[("SHOW_TIME_SEC", "1")]).await;
    let (a, b, id) = paired(&app).await;
    let started = std::time::Instant::now();
    assert_eq!(
        app.decide(&a.token, id, "accept").await,
        (StatusCode::OK, json!({"status": "next"}))
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(
        app.decide(&b.token, id, "accept").await,
        (StatusCode::OK, json!({"status": "next"}))
    );
}

#[tokio::test]
async fn a_decision_body_that_is_not_a_json_object_is_422_and_decides_nothing() {
    let app = spawn_app().await;
    let (a, b, id) = paired(&app).await;
    // an array would fill the request's fields by position (`[id, "accept"]`: an accept)
    for body in [json!([id, "accept"]), json!("accept"), json!(id)] {
        assert_eq!(
            app.post("/api/match/decision/", Some(&a.token), &body)
                .await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                validation("body: must be a JSON object")
            ),
            "{body}"
        );
    }
    // nothing was decided: the match waits for both decisions still
    let key = format!("{}{{pool:global}}:m:{id}", app.prefix);
    let redis = app.state.redis.pool.next();
    let m: (Option<String>, Option<String>, Option<String>) =
        redis.hmget(&key, vec!["status", "da", "db"]).await.unwrap();
    assert_eq!(m, (Some("pending".into()), None, None));
    assert_eq!(
        app.decide(&b.token, id, "reject").await,
        (StatusCode::OK, json!({"status": "next"}))
    );
}

#[tokio::test]
async fn decisions_are_for_the_matchs_users_only() {
    let app = spawn_app().await;
    let (_, _, id) = paired(&app).await;
    let outsider = member(&app, "male", 40).await;
    assert_eq!(
        app.decide(&outsider.token, id, "accept").await,
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Unauthorized access", "code": "forbidden"})
        )
    );
    assert_eq!(
        app.decide(&outsider.token, id + 64_000, "accept").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "not_found"})
        )
    );
    let (status, body) = app.decide(&outsider.token, id, "maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        validation("decision: unknown variant `maybe`, expected `accept` or `reject`")
    );
    let (status, body) = app
        .post(
            "/api/match/decision/",
            Some(&outsider.token),
            &json!({"match_id": "seven", "decision": "accept"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        validation("match_id: invalid type: string \"seven\", expected i64")
    );
}

#[tokio::test]
async fn concurrent_accept_reject_and_cancel_agree() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let (a, b, id) = paired(&app).await;
        let (ra, rb, rc) = tokio::join!(
            app.decide(&a.token, id, "accept"),
            app.decide(&b.token, id, "reject"),
            app.cancel(&a.token),
        );
        assert_eq!(ra, (StatusCode::OK, json!({"status": "next"})));
        assert_eq!(rb, (StatusCode::OK, json!({"status": "next"})));
        assert_eq!(rc.0, StatusCode::OK);
        // and both accepting at the same instant is matched for both
        let (c, d, id) = paired(&app).await;
        let (rc, rd) = tokio::join!(
            app.decide(&c.token, id, "accept"),
            app.decide(&d.token, id, "accept")
        );
        assert_eq!(
            (rc.1["status"].clone(), rd.1["status"].clone()),
            (json!("matched"), json!("matched"))
        );
    }
}

#[tokio::test]
async fn cancel_leaves_the_pool_and_tells_the_partner() {
    let app = spawn_app().await;
    let a = member(&app, "female", 24).await;
    let b = member(&app, "male", 31).await;
    app.random(&a.token, 0).await;
    assert_eq!(
        app.cancel(&a.token).await,
        (
            StatusCode::OK,
            json!({"message": "매칭 상태가 해제되었습니다."})
        )
    );
    finds_nobody(&app, &b).await;

    let (c, d, id) = paired(&app).await;
    let (rd, _) = tokio::join!(app.decide(&d.token, id, "accept"), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.cancel(&c.token).await
    });
    assert_eq!(rd, (StatusCode::OK, json!({"status": "next"})));
    assert_eq!(
        app.cancel(&c.token).await.0,
        StatusCode::OK,
        "cancel is idempotent"
    );
}

/// A member who only wants `wants` (and has the gems a filtered match costs).
async fn seeking(app: &TestApp, gender: &str, age: i32, wants: &str) -> Member {
    let m = member(app, gender, age).await;
    grant_gems(app, m.id, 10).await;
    settings(app, &m, json!({"preferred_gender": wants})).await;
    m
}

#[tokio::test]
async fn genders_and_ages_must_fit_both_ways() {
    let app = spawn_app().await;
    // a woman of 30 who wants men of 25-35
    let w = member(&app, "female", 30).await;
    settings(
        &app,
        &w,
        json!({"age_range": [25, 35], "preferred_gender": "male"}),
    )
    .await;
    grant_gems(&app, w.id, 5).await;
    assert_eq!(app.random(&w.token, 0).await.0, StatusCode::ACCEPTED);
    // not offered: another woman; a man of 40; a man of 30 who wants women up to 29; a man who wants men
    let other_woman = member(&app, "female", 30).await;
    let too_old = member(&app, "male", 40).await;
    let picky = member(&app, "male", 30).await;
    settings(&app, &picky, json!({"age_range": [18, 29]})).await;
    let gay = member(&app, "male", 30).await;
    settings(&app, &gay, json!({"preferred_gender": "male"})).await;
    grant_gems(&app, gay.id, 5).await;
    for m in [&other_woman, &too_old, &picky, &gay] {
        finds_nobody(&app, m).await;
    }
    // offered: a man of 35 with default settings (at the edge of her range)
    let fits = member(&app, "male", 35).await;
    let (status, body) = app.random(&fits.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["matched_user"]["id"], w.id);
}

#[tokio::test]
async fn the_longest_waiting_compatible_user_comes_first() {
    let app = spawn_app().await;
    let first = seeking(&app, "female", 22, "male").await;
    let second = seeking(&app, "female", 45, "male").await;
    app.random(&first.token, 0).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.random(&second.token, 0).await;
    // polling again keeps one's place in line
    app.random(&first.token, 0).await;
    let m = member(&app, "male", 30).await;
    let (_, body) = app.random(&m.token, 0).await;
    assert_eq!(body["matched_user"]["id"], first.id);
    let n = member(&app, "male", 30).await;
    let (_, body) = app.random(&n.token, 0).await;
    assert_eq!(body["matched_user"]["id"], second.id);
}

#[tokio::test]
async fn radius_is_respected_both_ways() {
    let app = spawn_app().await;
    let seoul = json!({"lat": 37.5665, "lng": 126.9780});
    let near_seoul = json!({"lat": 37.5796, "lng": 126.9770}); // ~1.5 km away
    let busan = json!({"lat": 35.1796, "lng": 129.0756});
    let w = member(&app, "female", 30).await;
    settings(&app, &w, json!({"radius_km": 10, "location": seoul})).await;
    app.random(&w.token, 0).await;
    // too far for her radius
    let far = member(&app, "male", 30).await;
    settings(&app, &far, json!({"location": busan})).await;
    finds_nobody(&app, &far).await;
    // no known location: cannot be within her radius
    let unknown = member(&app, "male", 30).await;
    finds_nobody(&app, &unknown).await;
    // near, but his own 1 km radius excludes her
    let strict = member(&app, "male", 30).await;
    settings(
        &app,
        &strict,
        json!({"radius_km": 1, "location": near_seoul}),
    )
    .await;
    finds_nobody(&app, &strict).await;
    // near and within both radii; his location comes with the request
    let close = member(&app, "male", 30).await;
    let (status, body) = app
        .get(
            "/api/match/random/?wait=0&lat=37.5796&lng=126.9770",
            Some(&close.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], w.id);
}

#[tokio::test]
async fn blocked_pairs_are_never_matched_either_way() {
    let app = spawn_app().await;
    let a = member(&app, "female", 30).await;
    let b = member(&app, "male", 30).await;
    let c = member(&app, "male", 30).await;
    sqlx::query("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)")
        .bind(b.id)
        .bind(a.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    app.random(&a.token, 0).await;
    finds_nobody(&app, &b).await;
    let (_, body) = app.random(&c.token, 0).await;
    assert_eq!(body["matched_user"]["id"], a.id);
    // and the blocked side arriving later does not find the blocker either
    let d = member(&app, "female", 30).await;
    sqlx::query("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)")
        .bind(d.id)
        .bind(b.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.random(&d.token, 0).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_pair_is_not_matched_again_within_the_cooldown() {
    let app = spawn_app_with(&[("REMATCH_COOLDOWN_SEC", "2")]).await;
    let (a, b, id) = paired(&app).await;
    app.decide(&a.token, id, "reject").await;
    assert_eq!(app.random(&a.token, 0).await.0, StatusCode::ACCEPTED);
    assert_eq!(
        app.random(&b.token, 0).await.0,
        StatusCode::ACCEPTED,
        "re-paired within the cooldown"
    );
    // past the cooldown the pair is forgotten (housekeeping trims it) and may meet again
    let recent = format!("{}{{pool:global}}:recent", app.prefix);
    let redis = app.state.redis.pool.next();
    assert_eq!(redis.zcard::<i64, _>(&recent).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut remembered = 1;
    for _ in 0..20 {
        remembered = redis.zcard::<i64, _>(&recent).await.unwrap();
        if remembered == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(remembered, 0, "pairs past the cooldown are kept");
    let (status, body) = app.random(&b.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["matched_user"]["id"], a.id);
}

#[tokio::test]
async fn a_waiter_who_changes_settings_waits_in_the_new_class_only() {
    let app = spawn_app().await;
    let w = seeking(&app, "female", 30, "male").await;
    app.random(&w.token, 0).await;
    settings(
        &app,
        &w,
        json!({"preferred_gender": "male", "age_range": [40, 50]}),
    )
    .await;
    // polling again moves her: nothing of her old class is left
    assert_eq!(app.random(&w.token, 0).await.0, StatusCode::ACCEPTED);
    let queues = redis_keys(&app, "{pool:global}:q:*").await;
    assert_eq!(queues.len(), 1, "{queues:?}");
    assert!(queues[0].ends_with(":40:50:0"), "{queues:?}");
    finds_nobody(&app, &member(&app, "male", 30).await).await;
    let (status, body) = app.random(&member(&app, "male", 45).await.token, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], w.id);
}

#[tokio::test]
async fn ghosts_leave_the_pool_and_listeners_stay() {
    let app = spawn_app_with(&[("GHOST_TIMEOUT_SEC", "1")]).await;
    let ghost = seeking(&app, "female", 30, "male").await;
    let listener = seeking(&app, "female", 30, "male").await;
    app.random(&ghost.token, 0).await;
    app.random(&listener.token, 0).await;
    // the listener keeps an event stream open; the ghost has nothing open
    let stream = app
        .client
        .get(app.at("/api/events"))
        .bearer_auth(&listener.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let m = member(&app, "male", 30).await;
    let (status, body) = app.random(&m.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["matched_user"]["id"], listener.id,
        "paired with {}",
        body["matched_user"]
    );
    let n = member(&app, "male", 30).await;
    assert_eq!(
        app.random(&n.token, 0).await.0,
        StatusCode::ACCEPTED,
        "paired with a ghost"
    );
    drop(stream);
}

#[tokio::test]
async fn match_ids_never_repeat_even_after_redis_restarts_empty() {
    let app = spawn_app().await;
    let (_, _, first) = paired(&app).await;
    let keys = redis_keys(&app, "*").await;
    delete_keys(&app, &keys).await;
    // a second node (fresh id blocks) and the first both make matches
    let other = spawn_node(&app, &[]).await;
    let mut seen = HashSet::from([first]);
    for node in [&app, &other, &app] {
        let (_, _, id) = paired(node).await;
        assert!(seen.insert(id), "match id {id} repeated");
    }
}

#[tokio::test]
async fn two_hundred_concurrent_requests_pair_everyone_at_most_once_and_compatibly() {
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "20"), ("REDIS_POOL_SIZE", "4")]).await;
    let mut members = Vec::new();
    for i in 0..200 {
        let gender = if i % 2 == 0 { "male" } else { "female" };
        members.push(member(&app, gender, 18 + (i % 40)).await);
    }
    let mut prefs: HashMap<i64, (String, i32, String, [i64; 2])> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        let preferred = ["all", "male", "female"][i % 3];
        let (lo, hi) = [(18, 100), (18, 35), (30, 60)][(i / 3) % 3];
        if preferred != "all" {
            grant_gems(&app, m.id, 1).await;
        }
        settings(
            &app,
            m,
            json!({"preferred_gender": preferred, "age_range": [lo, hi]}),
        )
        .await;
        let (_, p) = app.get("/api/user/profile/", Some(&m.token)).await;
        prefs.insert(
            m.id,
            (
                p["gender"].as_str().unwrap().to_owned(),
                p["age"].as_i64().unwrap() as i32,
                preferred.to_owned(),
                [lo, hi],
            ),
        );
    }
    let results =
        futures_util::future::join_all(members.iter().map(|m| app.random(&m.token, 3))).await;
    let mut partner_of: HashMap<i64, (i64, i64)> = HashMap::new();
    for (m, (status, body)) in members.iter().zip(&results) {
        if *status == StatusCode::OK {
            let other = body["matched_user"]["id"].as_i64().unwrap();
            assert_ne!(other, m.id, "self-match");
            partner_of.insert(m.id, (other, match_id(body)));
        } else {
            assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
        }
    }
    // a user paired after their long poll answered gets the match on the next poll
    for _round in 0..5 {
        let mut changed = false;
        let unmatched: Vec<&Member> = members
            .iter()
            .filter(|m| !partner_of.contains_key(&m.id))
            .collect();
        for m in unmatched {
            let (status, body) = app.random(&m.token, 0).await;
            if status == StatusCode::OK {
                partner_of.insert(
                    m.id,
                    (
                        body["matched_user"]["id"].as_i64().unwrap(),
                        match_id(&body),
                    ),
                );
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    assert!(
        partner_of.len() >= 100,
        "only {} of 200 matched",
        partner_of.len()
    );
    let accepts = |who: i64, other: i64| {
        let (_, _, preferred, [lo, hi]) = &prefs[&who];
        let (gender, age, _, _) = &prefs[&other];
        (preferred == "all" || preferred == gender) && (*lo as i32..=*hi as i32).contains(age)
    };
    for (&me, &(other, id)) in &partner_of {
        let (back, back_id) = partner_of.get(&other).copied().unwrap_or((0, 0));
        assert_eq!(
            (back, back_id),
            (me, id),
            "{me} and {other} disagree on their match"
        );
        assert!(
            accepts(me, other) && accepts(other, me),
            "{me} and {other} do not fit"
        );
    }
    let ids: HashSet<i64> = partner_of.values().map(|(_, id)| *id).collect();
    assert_eq!(
        ids.len() * 2,
        partner_of.len(),
        "a match id shared by more than two users"
    );
}

#[tokio::test]
async fn every_key_of_the_pool_shares_the_shards_hash_tag() {
    let app = spawn_app().await;
    let seoul = json!({"lat": 37.5665, "lng": 126.978});
    let w = member(&app, "female", 30).await;
    settings(&app, &w, json!({"radius_km": 50, "location": seoul})).await;
    app.random(&w.token, 0).await;
    let (_, _, id) = paired(&app).await;
    let keys = redis_keys(&app, "*pool*").await;
    assert!(keys.len() >= 8, "{keys:?}");
    let tag = format!("{}{{pool:global}}:", app.prefix);
    for key in &keys {
        assert!(key.starts_with(&tag), "{key} is outside the shard's slot");
    }
    assert!(keys.iter().any(|k| k.ends_with(&format!(":m:{id}"))));
    assert!(keys.iter().any(|k| k.contains(":geo:")));
}

#[tokio::test]
async fn metrics_count_matches_and_the_pool() {
    let app = spawn_app().await;
    // someone who fits nobody else in this test stays waiting
    let waiting = member(&app, "female", 30).await;
    settings(
        &app,
        &waiting,
        json!({"preferred_gender": "female", "age_range": [90, 100]}),
    )
    .await;
    grant_gems(&app, waiting.id, 1).await;
    app.random(&waiting.token, 0).await;
    paired(&app).await;
    let text = eventually(
        || app.metrics(),
        |t| {
            t.contains("match_wait_seconds_count 1")
                && t.contains(r#"match_pool_size{shard="global"} 1"#)
        },
    )
    .await;
    assert!(text.contains("matches_made_total 1"), "{text}");
    assert!(
        text.contains(r#"match_pool_size{shard="global"} 1"#),
        "{text}"
    );
    assert!(text.contains("match_wait_seconds_count 1"));
    assert!(text.contains(r#"route="/api/match/random""#));
}

#[tokio::test]
async fn ended_matches_are_kept_a_minute_past_their_deadline_and_matched_ones_until_the_call() {
    let app = spawn_app().await;
    let key = |id: i64| format!("{}{{pool:global}}:m:{id}", app.prefix);
    let pttl = |id: i64| {
        let redis = app.state.redis.clone();
        let key = key(id);
        async move { redis.pool.next().pttl::<i64, _>(key).await.unwrap() }
    };
    let (a, b, id) = paired(&app).await;
    assert!(pttl(id).await <= 70_000);
    tokio::join!(
        app.decide(&a.token, id, "accept"),
        app.decide(&b.token, id, "accept")
    );
    let kept = pttl(id).await;
    assert!(
        (590_000..=600_000).contains(&kept),
        "matched kept {kept} ms"
    );
    // rejected within its 10 s window: the expiry it got when paired (a minute past
    // the deadline) is left as it is, one write fewer
    let (c, _, id) = paired(&app).await;
    assert_eq!(
        app.decide(&c.token, id, "reject").await,
        (StatusCode::OK, json!({"status": "next"}))
    );
    let kept = pttl(id).await;
    assert!((60_001..=70_000).contains(&kept), "ended kept {kept} ms");
}

#[tokio::test]
async fn a_radius_reaches_across_cell_boundaries() {
    let app = spawn_app().await;
    // just south of 38°N with a 5 km radius; the caller is just north of it, 0.6 km away
    let w = member(&app, "female", 30).await;
    settings(
        &app,
        &w,
        json!({"radius_km": 5, "location": {"lat": 37.9995, "lng": 127.0}}),
    )
    .await;
    app.random(&w.token, 0).await;
    let far = member(&app, "male", 30).await;
    settings(&app, &far, json!({"location": {"lat": 38.1, "lng": 127.0}})).await;
    finds_nobody(&app, &far).await;
    let near = member(&app, "male", 30).await;
    let (status, body) = app
        .get(
            "/api/match/random/?wait=0&lat=38.005&lng=127.0",
            Some(&near.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], w.id);
    // and across a meridian: a waiter just west of 127°E, a caller just east of it
    let e = member(&app, "female", 30).await;
    settings(
        &app,
        &e,
        json!({"radius_km": 2, "location": {"lat": 37.5, "lng": 126.999}}),
    )
    .await;
    app.random(&e.token, 0).await;
    let east = member(&app, "male", 30).await;
    let (status, body) = app
        .get(
            "/api/match/random/?wait=0&lat=37.5&lng=127.001",
            Some(&east.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], e.id);
    // and across the antimeridian: a waiter at 179.9°E, a caller at 179.9°W, 22 km apart
    let fiji = member(&app, "female", 30).await;
    settings(
        &app,
        &fiji,
        json!({"radius_km": 50, "location": {"lat": -17.0, "lng": 179.9}}),
    )
    .await;
    app.random(&fiji.token, 0).await;
    let across = member(&app, "male", 30).await;
    let (status, body) = app
        .get(
            "/api/match/random/?wait=0&lat=-17.0&lng=-179.9",
            Some(&across.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], fiji.id);
}

/// Men of 25–35 who want women but not of 30: `n` of them, each in a class of
/// their own (a distinct age range), all waiting.
async fn crowd_of_misfits(app: &TestApp, n: usize) {
    for i in 0..n {
        let m = member(app, "male", 25 + (i % 11) as i32).await;
        grant_gems(app, m.id, 1).await;
        let low = 31 + (i / 11) as i64;
        settings(
            app,
            &m,
            json!({"preferred_gender": "female", "age_range": [low, 100]}),
        )
        .await;
        assert_eq!(app.random(&m.token, 0).await.0, StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn in_a_crowd_of_classes_a_newcomer_is_found_at_once() {
    let app = spawn_app().await;
    // more distinct classes in her range than one search looks at (pair.lua: 48)
    crowd_of_misfits(&app, 60).await;
    // of the youngest age: outside the first window of the crowd (ranks 24-47)
    let newcomer = member(&app, "male", 25).await;
    assert_eq!(app.random(&newcomer.token, 0).await.0, StatusCode::ACCEPTED);
    let w = member(&app, "female", 30).await;
    let (status, body) = app.random(&w.token, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], newcomer.id);
}

#[tokio::test]
async fn in_a_crowd_of_classes_every_class_gets_its_turn() {
    let app = spawn_app().await;
    // the one who fits came first: not among the newest, nor in the first window
    let first = member(&app, "male", 26).await;
    assert_eq!(app.random(&first.token, 0).await.0, StatusCode::ACCEPTED);
    crowd_of_misfits(&app, 60).await;
    let w = member(&app, "female", 30).await;
    // the window moves on by 24 classes a search: 61 classes take at most 3
    let mut searches = 0;
    let body = loop {
        searches += 1;
        let (status, body) = app.random(&w.token, 0).await;
        if status == StatusCode::OK {
            break body;
        }
        assert!(searches < 4, "not found after {searches} searches");
    };
    assert_eq!(body["matched_user"]["id"], first.id);
}

/// A pairing runs in a task of its own, whose future is copied whole when it is
/// spawned, when it ends and when its answer is read. It stays small: the rare
/// paths (charging gems, refunds, a new block of match ids) are boxed, since a
/// future that awaits sqlx's or fred's inline grows by kilobytes (BENCHMARKS.md).
#[tokio::test]
async fn the_pairing_task_stays_small() {
    let app = spawn_app().await;
    let m = member(&app, "female", 30).await;
    let ticket = voxmatch::matching::service::ticket(&app.state, m.id, None)
        .await
        .unwrap();
    let search = voxmatch::matching::service::search(app.state.clone(), ticket, false);
    let size = std::mem::size_of_val(&search);
    assert!(size <= 2048, "the pairing future is {size} bytes");
}

/// A Redis that forgot the scripts and the matching library (a restart,
/// `SCRIPT FLUSH` / `FUNCTION FLUSH`, a failover to a replica that never loaded
/// them) gets each one again from the first request that runs it: pairing,
/// deciding and a call's session all go on.
#[tokio::test]
async fn scripts_redis_forgot_are_loaded_again() {
    let app = spawn_app().await;
    let client = app.state.redis.pool.next();
    // a script this server never saw (no other test runs it): its first run meets
    // NOSCRIPT, is loaded, and runs with the arguments built again
    let unseen = fred::types::scripts::Script::from_lua(format!(
        "-- {}\nreturn ARGV[1] .. ':' .. #KEYS",
        unique("script")
    ));
    let got: String = voxmatch::redis::Redis::run_on(client, &unseen, || {
        (vec![format!("{{t}}:{}", unique("k"))], vec!["again"])
    })
    .await
    .unwrap();
    assert_eq!(got, "again:1");
    // and the matching library, lost the same way, is loaded again by the first call
    if app.state.redis.clustered {
        client.script_flush_cluster(false).await.unwrap();
        client.function_flush_cluster(false).await.unwrap();
    } else {
        client.script_flush(false).await.unwrap();
        let _: () = client.function_flush(false).await.unwrap();
    }
    let (a, _b, match_id) = matched(&app).await;
    let (status, body) = app.start_call(&a.token, match_id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits until `m` is in the pool (their long poll entered it).
async fn until_waiting(app: &TestApp, m: &Member) {
    let standing = || async { app.get("/api/match/status/", Some(&m.token)).await.1 };
    let body = eventually(standing, |body| body["status"] == "waiting").await;
    assert_eq!(body["status"], "waiting", "{}", m.username);
}

/// The types of the text messages `socket` gets until one of type `until`.
async fn types_until(socket: &mut Socket, until: &str) -> Vec<String> {
    use futures_util::StreamExt;
    let mut types = Vec::new();
    let read = async {
        while let Some(Ok(message)) = socket.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                let event: Value = serde_json::from_str(&text).unwrap();
                types.push(event["type"].as_str().unwrap_or_default().to_owned());
                if event["type"] == until {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("event in time");
    types
}

#[tokio::test]
async fn settings_saved_while_waiting_apply_at_once_and_the_long_poll_goes_on_with_them() {
    let app = spawn_app().await;
    // a man who wants women (a filter: 1 gem a match) waits, then takes anyone: the
    // woman who comes is his at no cost
    let a = member(&app, "male", 30).await;
    grant_gems(&app, a.id, 1).await;
    settings(&app, &a, json!({"preferred_gender": "female"})).await;
    let mut socket = websocket(&app.url, &a.token).await;
    let b = member(&app, "female", 28).await;
    let ((status, body), ()) = tokio::join!(app.random(&a.token, 8), async {
        until_waiting(&app, &a).await;
        settings(&app, &a, json!({"preferred_gender": "all"})).await;
        // out of the pool at once, and back in with the new settings
        until_waiting(&app, &a).await;
        assert_eq!(app.random(&b.token, 0).await.0, StatusCode::OK);
    });
    assert_eq!(
        (status, &body["matched_user"]["id"]),
        (StatusCode::OK, &json!(b.id))
    );
    assert_eq!(
        balance_and_ledger(&app, a.id).await.0,
        1,
        "charged by his old filter"
    );
    // the internal event that sent his long poll back in line is not for clients
    let types = types_until(&mut socket, "match_found").await;
    assert!(!types.iter().any(|t| t == "pool_left"), "{types:?}");
    app.decide(&a.token, match_id(&body), "reject").await;

    // the other way round: a man who takes anyone waits, then wants men; a woman who
    // comes is not his match, a man is; a match undecided meanwhile stays
    let c = member(&app, "male", 33).await;
    let d = member(&app, "female", 29).await;
    let e = member(&app, "male", 35).await;
    grant_gems(&app, c.id, 1).await;
    let ((status, body), ()) = tokio::join!(app.random(&c.token, 8), async {
        until_waiting(&app, &c).await;
        settings(&app, &c, json!({"preferred_gender": "male"})).await;
        until_waiting(&app, &c).await;
        finds_nobody(&app, &d).await;
        assert_eq!(app.random(&e.token, 0).await.0, StatusCode::OK);
    });
    assert_eq!(
        (status, &body["matched_user"]["id"]),
        (StatusCode::OK, &json!(e.id))
    );
    settings(&app, &c, json!({"preferred_gender": "all"})).await;
    let (status, again) = app.random(&c.token, 0).await;
    assert_eq!(
        (status, match_id(&again)),
        (StatusCode::OK, match_id(&body))
    );
}

#[tokio::test]
async fn moving_to_another_region_ends_an_undecided_match_and_matches_there() {
    let app = spawn_app_with(&[("MATCH_SHARDS", "global,kr")]).await;
    let (a, b, _) = paired(&app).await;
    settings(&app, &a, json!({"region": "kr"})).await;
    // the match could not be found again from kr: it ends, and the partner is free
    let (_, standing) = app.get("/api/match/status/", Some(&b.token)).await;
    assert_eq!(standing["status"], "idle", "{standing}");
    let c = member(&app, "male", 31).await;
    settings(&app, &c, json!({"region": "kr"})).await;
    assert_eq!(app.random(&c.token, 0).await.0, StatusCode::ACCEPTED);
    let (status, body) = app.random(&a.token, 0).await;
    assert_eq!(
        (status, &body["matched_user"]["id"]),
        (StatusCode::OK, &json!(c.id))
    );
}

#[tokio::test]
async fn a_settings_save_retried_after_its_redis_step_failed_still_takes_the_old_ticket_out() {
    let app = spawn_app().await;
    let a = member(&app, "male", 30).await;
    grant_gems(&app, a.id, 1).await;
    settings(&app, &a, json!({"preferred_gender": "female"})).await;
    assert_eq!(app.random(&a.token, 0).await.0, StatusCode::ACCEPTED);
    // what a save leaves when Redis fails after Postgres committed: the new settings
    // stored, the old ticket (wanting women) waiting
    sqlx::query("UPDATE match_settings SET preferred_gender = 'male' WHERE user_id = $1")
        .bind(a.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    // the client's retry saves what is already stored
    settings(&app, &a, json!({"preferred_gender": "male"})).await;
    let b = member(&app, "female", 28).await;
    finds_nobody(&app, &b).await;
}
