//! Health, readiness, metrics, the OpenAPI document, request ids.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/healthz", None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        app.get("/readyz", None).await,
        (
            StatusCode::OK,
            json!({"status": "ready", "redis": "ok", "postgres": "ok"})
        )
    );
}

#[tokio::test]
async fn readyz_is_503_when_postgres_is_gone() {
    let app = spawn_app().await;
    app.state.db.close().await;
    let res = app.client.get(app.at("/readyz")).send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    let (status, body) = parts(res).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": "Service unavailable", "code": "service_unavailable", "redis": "ok", "postgres": "down"})
    );
    // and requests that need it are 503 in the contract's shape, not 500
    let (status, body) = app.login("someone", "password1").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Service unavailable", "code": "service_unavailable"})
        )
    );
}

#[tokio::test]
async fn readyz_is_503_when_redis_is_gone() {
    let app = spawn_app().await;
    fred::prelude::ClientLike::quit(&app.state.redis.pool)
        .await
        .unwrap();
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": "Service unavailable", "code": "service_unavailable", "redis": "down", "postgres": "ok"})
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app().await;
    app.get("/healthz", None).await;
    app.get("/healthz/", None).await;
    app.get("/no/such/thing", None).await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
    assert!(text.contains("http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn openapi_lists_every_route_with_its_error_bodies() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/auth/signup/", "post"),
        ("/api/auth/login/", "post"),
        ("/api/auth/logout/", "post"),
        ("/api/auth/refresh/", "post"),
        ("/api/auth/register", "post"),
        ("/api/auth/request_code", "post"),
        ("/api/auth/resend_code", "post"),
        ("/api/auth/verify_code", "post"),
        ("/api/user/profile/", "get"),
        ("/api/user/profile/", "put"),
        ("/api/match/settings/", "get"),
        ("/api/match/settings/", "post"),
        ("/api/match/random/", "get"),
        ("/api/match/decision/", "post"),
        ("/api/match/cancel/", "post"),
        ("/api/gem/balance/", "get"),
        ("/api/gem/charge/", "post"),
        ("/api/call/start/", "post"),
        ("/api/call/end/", "post"),
        ("/api/call/ice-servers/", "get"),
        ("/api/history/recent/", "get"),
        ("/api/history/rate/", "post"),
        ("/api/broadcasts", "get"),
        ("/api/broadcasts", "post"),
        ("/api/broadcasts/{id}", "get"),
        ("/api/broadcasts/{id}/voice", "get"),
        ("/api/broadcasts/{id}/reply", "post"),
        ("/api/conversations", "get"),
        ("/api/conversations/{id}", "get"),
        ("/api/conversations/{id}", "delete"),
        ("/api/conversations/{id}/send_message", "post"),
        ("/api/conversations/{id}/favorite", "post"),
        ("/api/conversations/{id}/unfavorite", "post"),
        ("/api/conversations/{id}/messages/{message_id}/voice", "get"),
        ("/users/{id}/block", "post"),
        ("/users/{id}/unblock", "post"),
        ("/users/{id}/report", "post"),
        ("/api/users/{id}/block", "post"),
        ("/api/users/{id}/unblock", "post"),
        ("/api/users/{id}/report", "post"),
        ("/api/match/status/", "get"),
        ("/media/profiles/{name}", "get"),
        ("/docs", "get"),
        ("/demo/", "get"),
        ("/ws", "get"),
        ("/api/events", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "ValidationErrorBody",
        "RateLimitedBody",
        "LoginRequest",
        "SignupForm",
        "ErrorCode",
        "Event_match_found",
        "Event_broadcast_reply",
        "ClientMessage_signal",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
    // every error body names its code, one of the catalogue's
    let codes = &schemas["ErrorCode"]["enum"];
    for code in [
        "invalid_token",
        "validation_error",
        "not_enough_gems",
        "route_not_found",
    ] {
        assert!(codes.as_array().unwrap().contains(&json!(code)), "{code}");
    }
    for body in [
        "ErrorBody",
        "ValidationErrorBody",
        "RateLimitedBody",
        "NotEnoughGemsBody",
    ] {
        assert!(
            schemas[body]["required"]
                .as_array()
                .unwrap()
                .contains(&json!("code")),
            "{body}"
        );
    }
    // the realtime operations answer with the event schemas
    assert_eq!(
        doc["paths"]["/api/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
            ["$ref"],
        "#/components/schemas/Event"
    );
    let events: Vec<&str> = schemas["Event"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["$ref"].as_str().unwrap())
        .collect();
    for name in [
        "match_found",
        "match_decided",
        "call_started",
        "call_ended",
        "signal",
        "new_message",
        "broadcast_reply",
    ] {
        assert!(
            events.contains(&format!("#/components/schemas/Event_{name}").as_str()),
            "{name}"
        );
    }
    // the error responses every operation can give
    let signup = &doc["paths"]["/api/auth/signup/"]["post"]["responses"];
    assert_eq!(
        signup["429"]["x-error-codes"],
        json!(["signup_rate_limited"])
    );
    assert!(signup["503"]["headers"].get("Retry-After").is_some());
    let balance = &doc["paths"]["/api/gem/balance/"]["get"]["responses"];
    for status in ["401", "500", "503"] {
        assert!(balance.get(status).is_some(), "{status}");
    }
}

/// The routes the routers are built from, read from their source: every
/// `warp::path!(..)` (types are parameters, `{}`), and the few routes
/// composed otherwise, read by what composes them. A file that composes
/// routes in a way this does not read fails the test rather than hiding them.
fn routes_in_source() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut routes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(&src).unwrap().display().to_string();
        for (at, _) in text.match_indices("warp::path!(") {
            let args = &text[at + "warp::path!(".len()..];
            let args = &args[..args.find(')').unwrap()];
            let segments: Vec<&str> = args
                .split('/')
                .map(|s| {
                    let s = s.trim();
                    if s.starts_with('"') {
                        s.trim_matches('"')
                    } else {
                        "{}"
                    }
                })
                .collect();
            routes.push(format!("/{}", segments.join("/")));
        }
        if !text.contains("warp::path(") {
            continue;
        }
        // routes composed segment by segment
        let literals = |prefix: &str| -> Vec<String> {
            text.split(prefix)
                .skip(1)
                .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
                .collect()
        };
        let composed: Vec<String> = match name.as_str() {
            // `user_action("block")`: /users/{id}/block and /api/users/{id}/block
            "moderation/routes.rs" => literals("user_action(\"")
                .into_iter()
                .flat_map(|action| {
                    [
                        format!("/users/{{}}/{action}"),
                        format!("/api/users/{{}}/{action}"),
                    ]
                })
                .collect(),
            // the demo's files, matched by their full paths
            "demo/mod.rs" => literals("\"/demo")
                .into_iter()
                .map(|rest| format!("/demo{rest}"))
                .collect(),
            _ => Vec::new(),
        };
        assert!(
            !composed.is_empty(),
            "src/{name} composes routes with warp::path(..): teach routes_in_source to read them"
        );
        routes.extend(composed);
    }
    routes.sort();
    routes.dedup();
    routes
}

/// A path pattern without its trailing slash, parameters as `{}`.
fn normalized(pattern: &str) -> String {
    let segments: Vec<&str> = pattern
        .trim_end_matches('/')
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect();
    segments.join("/")
}

/// Whether the documented pattern `documented` covers the served `served`
/// (a documented parameter may stand for a served literal, as `/demo/{file}`).
fn covers(documented: &str, served: &str) -> bool {
    let (d, s) = (normalized(documented), normalized(served));
    let (d, s): (Vec<&str>, Vec<&str>) = (d.split('/').collect(), s.split('/').collect());
    d.len() == s.len() && d.iter().zip(&s).all(|(d, s)| d == s || *d == "{}")
}

/// A concrete path for a pattern: ids 1, names that may exist.
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| match s {
            "{name}" => "1.png",
            "{file}" => "app.js",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether some route took the request: anything but 405 and the 404 of no
/// route (`route_not_found`; a handler's own 404 is `not_found`). No token is
/// sent, so signed-in routes answer 401 before their handlers run.
async fn routed(app: &TestApp, method: &str, path: &str) -> bool {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let res = app
        .client
        .request(method, app.at(path))
        .send()
        .await
        .unwrap();
    let (status, body) = parts(res).await;
    !(status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body["code"] == "route_not_found"))
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_is_served() {
    let app = spawn_app().await;
    let (_, doc) = app.get("/api/openapi.json", None).await;
    let methods = ["get", "post", "put", "delete", "patch"];
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in methods {
            if item.get(method).is_some() {
                documented.push((method, path.clone()));
            }
        }
    }
    // the probe tells routes apart from what no route serves
    assert!(!routed(&app, "get", "/api/no/such/route").await);
    assert!(!routed(&app, "get", "/api/broadcasts/not-a-number").await);
    assert!(!routed(&app, "post", "/healthz").await);
    assert!(routed(&app, "get", "/media/profiles/missing.png").await);

    // documented → served, with and without the trailing slash
    for (method, path) in &documented {
        let concrete = concrete(path);
        let twin = match concrete.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{concrete}/"),
        };
        // files (`/demo/{file}`) are served by their names only
        let file = path.ends_with("{file}");
        for p in [&concrete, &twin]
            .into_iter()
            .take(if file { 1 } else { 2 })
        {
            assert!(
                routed(&app, method, p).await,
                "documented {method} {path}: {p} is not served"
            );
        }
    }

    // served → documented: every route of the source, by every method the router takes
    let routes = routes_in_source();
    assert!(routes.len() >= 40, "{routes:?}");
    for route in &routes {
        let path = concrete(route);
        let mut served = 0;
        for method in methods {
            if !routed(&app, method, &path).await {
                continue;
            }
            served += 1;
            assert!(
                documented
                    .iter()
                    .any(|(m, d)| *m == method && covers(d, route)),
                "{method} {route} is served but not in /api/openapi.json"
            );
        }
        assert!(
            served > 0,
            "{route} (read from the source) is not served at {path}"
        );
    }
}

#[tokio::test]
async fn the_docs_page_renders_the_document_with_nothing_from_elsewhere() {
    let app = spawn_app().await;
    for path in ["/docs", "/docs/"] {
        let res = app.client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
        let html = res.text().await.unwrap();
        assert!(html.contains("fetch(\"/api/openapi.json\""));
        // no URL of another host: no scheme, no protocol-relative link
        let lower = html.to_lowercase();
        for needle in [
            "http:",
            "https:",
            "//cdn",
            "src=\"//",
            "href=\"//",
            "@import",
            "url(",
        ] {
            assert!(!lower.contains(needle), "{needle} in /docs");
        }
        assert!(!lower.contains("<script src") && !lower.contains("<link"));
    }
}

#[tokio::test]
async fn errors_carry_their_code_in_both_languages() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let res = app
        .client
        .post(app.at("/api/auth/login/"))
        .header("accept-language", "en")
        .json(&json!({"username": user.username, "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(res).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Wrong username or password.", "code": "bad_credentials"})
        )
    );
    let res = app
        .client
        .get(app.at("/api/no/such/route"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(res).await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "route_not_found"})
        )
    );
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let res = app.client.get(app.at("/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16);
    let res = app.client.get(app.at("/nope")).send().await.unwrap();
    assert!(res.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn logs_carry_request_ids_and_never_passwords_tokens_or_codes() {
    let app = spawn_app().await;
    std::fs::create_dir_all(&app.media).unwrap();
    let log = app.media.join("server.log");
    let server = spawn_process_logging(&app, Some(&log)).await;
    let client = reqwest::Client::new();
    let password = "Very-Secret-Passw0rd";
    let form = signup_form(&unique("log"), password, "30", "male");
    let signed: serde_json::Value = client
        .post(format!("{}/api/auth/signup/", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (access, refresh) = (
        signed["access"].as_str().unwrap(),
        signed["refresh"].as_str().unwrap(),
    );
    client
        .get(format!("{}/api/user/profile/?token={access}", server.url))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{}/api/auth/refresh/", server.url))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap();
    let sms: serde_json::Value = client
        .post(format!("{}/api/auth/request_code", server.url))
        .json(&json!({"phone_number": "01055556666"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = sms["code"].as_str().unwrap();
    client
        .post(format!("{}/api/auth/verify_code", server.url))
        .json(&json!({"phone_number": "01055556666", "code": code}))
        .send()
        .await
        .unwrap();
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("\"request_id\""), "{text}");
    assert!(text.contains("/api/auth/signup/"));
    for secret in [password, access, refresh, &format!("\"{code}\"")] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test]
async fn sigterm_answers_open_long_polls_and_exits_cleanly() {
    let app = spawn_app().await;
    let mut server = spawn_process(&app).await;
    let m = member(&app, "female", 30).await;
    let url = format!("{}/api/match/random/?wait=30", server.url);
    let poll = tokio::spawn({
        let client = app.client.clone();
        let token = m.token.clone();
        async move { parts(client.get(url).bearer_auth(token).send().await.unwrap()).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let exited = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(exited, "the server did not exit cleanly on SIGTERM");
    let (status, body) = poll.await.unwrap();
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::ACCEPTED, &json!("waiting")),
        "{body}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "shutdown waited for the long poll"
    );
}

#[tokio::test]
async fn a_node_starting_beside_a_slow_migration_waits_for_it() {
    // one node migrates over a slow link to Postgres, holding sqlx's migration
    // lock (one per database) for seconds; another starts meanwhile with a
    // statement_timeout far shorter than that wait
    let link = slow_link("127.0.0.1:15432", std::time::Duration::from_millis(20)).await;
    let url = database_url().replace("127.0.0.1:15432", &link);
    let schema = unique("t_");
    let db = sqlx::PgPool::connect(&database_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&db)
        .await
        .unwrap();
    let slow_vars = [
        ("DATABASE_URL", url.as_str()),
        ("DB_SCHEMA", schema.as_str()),
    ];
    let slow = spawn_app_with(&slow_vars);
    let holder = format!("voxmatch/{schema}");
    let beside = async {
        let held = || {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                 WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1",
            )
            .bind(&holder)
            .fetch_one(&db)
        };
        assert_eq!(eventually(held, |n| matches!(n, Ok(1))).await.unwrap(), 1);
        spawn_app_with(&[("DB_STATEMENT_TIMEOUT_MS", "100")]).await
    };
    let (slow, beside) = tokio::join!(slow, beside);
    for app in [&slow, &beside] {
        assert_eq!(app.get("/readyz", None).await.0, StatusCode::OK);
    }
}
