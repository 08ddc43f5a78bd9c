//! Matching beyond the documents: queue status and its estimate, relaxation of
//! filters while waiting, languages and interests, age bands.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn status(app: &TestApp, m: &Member) -> Value {
    let (status, body) = app.get("/api/match/status/", Some(&m.token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn pairs_with(app: &TestApp, m: &Member, partner: &Member) -> Value {
    let (status, body) = app.random(&m.token, 0).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{} found nobody: {body}",
        m.username
    );
    assert_eq!(body["matched_user"]["id"], partner.id, "{body}");
    body
}

#[tokio::test]
async fn the_queue_status_shows_who_waits_how_long_and_the_median_wait() {
    let app = spawn_app_with(&[("REAP_INTERVAL_MS", "100")]).await;
    let w = member(&app, "female", 30).await;
    settings(&app, &w, json!({"age_range": [25, 35]})).await;
    assert_eq!(
        status(&app, &w).await,
        json!({"status": "idle", "waited_sec": 0, "waiting": 0, "estimated_wait_sec": null,
               "age_range": [25, 35], "radius_km": null})
    );
    // the 202 of a random carries the same status
    let (code, body) = app.random(&w.token, 0).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(
        body,
        json!({"status": "waiting", "waited_sec": 0, "waiting": 1, "estimated_wait_sec": null,
               "age_range": [25, 35], "radius_km": null})
    );
    let other = member(&app, "male", 60).await;
    assert_eq!(app.random(&other.token, 0).await.0, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let now = status(&app, &w).await;
    assert_eq!(
        (&now["status"], &now["waiting"]),
        (&json!("waiting"), &json!(2))
    );
    assert!(
        (1..=2).contains(&now["waited_sec"].as_i64().unwrap()),
        "{now}"
    );
    // a pair after ~1.9 s of waiting: the estimate of the shard becomes 2 s
    let m = member(&app, "male", 30).await;
    pairs_with(&app, &m, &w).await;
    assert_eq!(status(&app, &w).await["status"], "pending");
    assert_eq!(status(&app, &m).await["status"], "pending");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (code, body) = app.random(&other.token, 0).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(
        (&body["estimated_wait_sec"], &body["waiting"]),
        (&json!(2), &json!(1)),
        "{body}"
    );
    let metrics = app.metrics().await;
    let gauge = metrics
        .lines()
        .find(|l| l.starts_with("match_estimated_wait_ms{shard=\"global\"}"))
        .unwrap_or_else(|| panic!("no wait estimate in {metrics}"));
    let ms: i64 = gauge.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((1800..2500).contains(&ms), "{gauge}");
}

#[tokio::test]
async fn relaxed_filters_widen_while_waiting_and_stay_mutual() {
    let app = spawn_app_with(&[
        ("RELAX_AFTER_SEC", "1"),
        ("RELAX_EVERY_SEC", "1"),
        ("RELAX_AGE_STEP", "5"),
        ("REAP_INTERVAL_MS", "100"),
    ])
    .await;
    let seoul = json!({"lat": 37.5665, "lng": 126.978});
    let w = member(&app, "female", 30).await;
    grant_gems(&app, w.id, 10).await;
    settings(
        &app,
        &w,
        json!({"preferred_gender": "male", "age_range": [28, 32], "radius_km": 10,
               "location": seoul, "relax": true}),
    )
    .await;
    // ~29 km away, 40 years old: out of her saved range and radius
    let far = json!({"lat": 37.8265, "lng": 126.978});
    let m = member(&app, "male", 40).await;
    settings(&app, &m, json!({"location": far})).await;
    let (_, body) = app.random(&w.token, 0).await;
    assert_eq!(
        (&body["age_range"], &body["radius_km"]),
        (&json!([28, 32]), &json!(10))
    );
    finds_nobody(&app, &m).await;
    // after 1 s: [23, 37] and 20 km; after 2 s: [18, 42] and 40 km (her ticket is
    // filed again by the housekeeping, without her polling)
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let now = status(&app, &w).await;
    assert_eq!(
        (&now["age_range"], &now["radius_km"]),
        (&json!([18, 42]), &json!(40)),
        "{now}"
    );
    // still mutual: a man whose own range leaves her out is not offered; nor a woman
    // (gender never relaxes)
    let picky = member(&app, "male", 40).await;
    settings(&app, &picky, json!({"age_range": [18, 29]})).await;
    let woman = member(&app, "female", 30).await;
    for other in [&picky, &woman] {
        finds_nobody(&app, other).await;
    }
    let body = pairs_with(&app, &m, &w).await;
    let match_id = body["match_id"].as_i64().unwrap();
    app.decide(&w.token, match_id, "reject").await;
    // a new random starts from the saved settings
    let (_, body) = app.random(&w.token, 0).await;
    assert_eq!(
        (&body["age_range"], &body["radius_km"]),
        (&json!([28, 32]), &json!(10)),
        "{body}"
    );
}

#[tokio::test]
async fn without_relax_the_filters_never_widen() {
    let app = spawn_app_with(&[
        ("RELAX_AFTER_SEC", "1"),
        ("RELAX_EVERY_SEC", "1"),
        ("REAP_INTERVAL_MS", "100"),
    ])
    .await;
    let w = member(&app, "female", 30).await;
    settings(&app, &w, json!({"age_range": [28, 32]})).await;
    app.random(&w.token, 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status(&app, &w).await["age_range"], json!([28, 32]));
    finds_nobody(&app, &member(&app, "male", 40).await).await;
}

#[tokio::test]
async fn users_who_both_name_languages_meet_only_in_a_shared_one() {
    let app = spawn_app().await;
    let korean = member(&app, "female", 30).await;
    settings(&app, &korean, json!({"languages": ["ko"]})).await;
    assert_eq!(app.random(&korean.token, 0).await.0, StatusCode::ACCEPTED);
    let english = member(&app, "male", 30).await;
    settings(&app, &english, json!({"languages": ["en"]})).await;
    finds_nobody(&app, &english).await;
    // someone who named none meets anyone
    let anyone = member(&app, "male", 30).await;
    pairs_with(&app, &anyone, &korean).await;
    // a waiter who named none is found by a speaker of some language
    let silent = member(&app, "female", 30).await;
    assert_eq!(app.random(&silent.token, 0).await.0, StatusCode::ACCEPTED);
    pairs_with(&app, &english, &silent).await;
    // one shared language of several is enough
    let bilingual = member(&app, "female", 30).await;
    settings(&app, &bilingual, json!({"languages": ["ja", "EN"]})).await;
    assert_eq!(
        app.random(&bilingual.token, 0).await.0,
        StatusCode::ACCEPTED
    );
    let french = member(&app, "male", 30).await;
    settings(&app, &french, json!({"languages": ["fr", "ko"]})).await;
    finds_nobody(&app, &french).await;
    let speaker = member(&app, "male", 30).await;
    settings(&app, &speaker, json!({"languages": ["de", "en"]})).await;
    let body = pairs_with(&app, &speaker, &bilingual).await;
    assert_eq!(body["matched_user"]["languages"], json!(["ja", "en"]));
}

#[tokio::test]
async fn both_cards_carry_languages_interests_and_the_shared_ones() {
    let app = spawn_app().await;
    let w = member(&app, "female", 30).await;
    settings(
        &app,
        &w,
        json!({"languages": ["ko", "en"], "interests": ["Music", " hiking ", "film"]}),
    )
    .await;
    app.random(&w.token, 0).await;
    let m = member(&app, "male", 30).await;
    settings(&app, &m, json!({"interests": ["film", "games", "music"]})).await;
    let body = pairs_with(&app, &m, &w).await;
    let card = &body["matched_user"];
    assert_eq!(card["languages"], json!(["ko", "en"]));
    assert_eq!(card["interests"], json!(["music", "hiking", "film"]));
    assert_eq!(card["shared_interests"], json!(["film", "music"]));
    // her side: the same match, his card, the same shared interests
    let (_, mine) = app.random(&w.token, 0).await;
    assert_eq!(mine["matched_user"]["id"], m.id);
    assert_eq!(mine["matched_user"]["languages"], json!([]));
    assert_eq!(
        mine["matched_user"]["shared_interests"],
        json!(["film", "music"])
    );
    // nothing in common: an empty list
    let a = member(&app, "female", 30).await;
    settings(&app, &a, json!({"interests": ["chess"]})).await;
    app.random(&a.token, 0).await;
    let b = member(&app, "male", 30).await;
    let body = pairs_with(&app, &b, &a).await;
    assert_eq!(body["matched_user"]["shared_interests"], json!([]));
}

#[tokio::test]
async fn under_18_and_18_plus_never_meet_whatever_their_ranges() {
    let app = spawn_app_with(&[("MIN_AGE", "13")]).await;
    let teen = member(&app, "female", 17).await;
    assert_eq!(app.random(&teen.token, 0).await.0, StatusCode::ACCEPTED);
    // both ranges are 13-100 by default: only the band keeps them apart
    let adult = member(&app, "male", 18).await;
    finds_nobody(&app, &adult).await;
    let other_teen = member(&app, "male", 16).await;
    pairs_with(&app, &other_teen, &teen).await;
    // and the other way round
    let waiting_adult = member(&app, "female", 19).await;
    assert_eq!(
        app.random(&waiting_adult.token, 0).await.0,
        StatusCode::ACCEPTED
    );
    finds_nobody(&app, &member(&app, "male", 15).await).await;
    pairs_with(&app, &member(&app, "male", 40).await, &waiting_adult).await;
}

#[tokio::test]
async fn languages_and_interests_are_validated_at_and_past_their_limits() {
    let app = spawn_app().await;
    let m = member(&app, "male", 30).await;
    let tag20 = "a".repeat(20);
    let ok = json!({"languages": ["ko", "en", "ja", "zh", "es"],
                    "interests": ["a", "b", "c", "d", "e", "f", "g", "h", "i", tag20],
                    "relax": true});
    settings(&app, &m, ok).await;
    let cases = [
        (
            json!({"languages": ["ko", "en", "ja", "zh", "es", "fr"]}),
            "languages: at most 5",
        ),
        (
            json!({"languages": ["xx"]}),
            "languages: must be ISO 639-1 codes such as \"ko\" or \"en\"",
        ),
        (
            json!({"languages": ["kor"]}),
            "languages: must be ISO 639-1 codes such as \"ko\" or \"en\"",
        ),
        (
            json!({"interests": ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]}),
            "interests: at most 10",
        ),
        (
            json!({"interests": ["a".repeat(21)]}),
            "interests: each must be 1 to 20 characters",
        ),
        (
            json!({"interests": ["  "]}),
            "interests: each must be 1 to 20 characters",
        ),
        (
            json!({"relax": "yes"}),
            "relax: invalid type: string \"yes\", expected a boolean",
        ),
    ];
    for (body, details) in cases {
        let (status, answer) = app.settings(&m.token, body.clone()).await;
        assert_eq!(
            (status, answer),
            (StatusCode::UNPROCESSABLE_ENTITY, validation(details)),
            "{body}"
        );
    }
    // settings stay partial: a change of one field keeps the others
    settings(&app, &m, json!({"interests": ["Jazz", "jazz"]})).await;
    let (_, saved) = app.get("/api/match/settings/", Some(&m.token)).await;
    assert_eq!(saved["languages"], json!(["ko", "en", "ja", "zh", "es"]));
    assert_eq!(saved["interests"], json!(["jazz"]));
    assert_eq!(saved["relax"], true);
}

#[tokio::test]
async fn a_pair_made_on_an_earlier_clock_than_its_waiter_keeps_the_housekeeping_running() {
    use voxmatch::matching::{engine, service};
    let app = spawn_app().await;
    let w = member(&app, "female", 30).await;
    assert_eq!(app.random(&w.token, 0).await.0, StatusCode::ACCEPTED);
    // a node whose request read the clock before she joined pairs with her
    let m = member(&app, "male", 30).await;
    let ticket = service::ticket(&app.state, m.id, None).await.unwrap();
    let cfg = &app.state.cfg.matching;
    let match_id = app.state.match_ids.next(&app.state.db, 0).await.unwrap();
    let earlier = engine::now_ms() - 5000;
    let paired = engine::pair(&app.state.redis, cfg, &ticket, match_id, earlier, false)
        .await
        .unwrap();
    assert!(
        matches!(paired, engine::PairOutcome::Paired { .. }),
        "{paired:?}"
    );
    let reaped = engine::reap(&app.state.redis, cfg, 0, engine::now_ms())
        .await
        .expect("the housekeeping runs");
    assert_eq!(reaped.eta_ms, Some(0));
}

#[tokio::test]
async fn a_match_past_its_deadline_is_not_pending_before_the_housekeeping_ends_it() {
    // the housekeeping, which ends undecided matches, runs once at start and then only
    // after a minute: only the deadline can change what the status says
    let app = spawn_app_with(&[("SHOW_TIME_SEC", "1"), ("REAP_INTERVAL_MS", "60000")]).await;
    let w = member(&app, "female", 30).await;
    assert_eq!(app.random(&w.token, 0).await.0, StatusCode::ACCEPTED);
    let m = member(&app, "male", 30).await;
    pairs_with(&app, &m, &w).await;
    assert_eq!(status(&app, &w).await["status"], "pending");
    assert_eq!(status(&app, &m).await["status"], "pending");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // over for both, as a decision or a random would treat it
    assert_eq!(status(&app, &w).await["status"], "idle");
    assert_eq!(status(&app, &m).await["status"], "idle");
    assert_eq!(app.random(&w.token, 0).await.0, StatusCode::ACCEPTED);
    assert_eq!(status(&app, &w).await["status"], "waiting");
}
