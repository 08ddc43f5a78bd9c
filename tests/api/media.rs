//! Serving media: byte ranges, ETags, and the S3 backend shared by nodes
//! (against moto's S3 server, installed by `scripts/dev.sh` under `.data/venv`).

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::helpers::*;

const VOICE: &[u8] = include_bytes!("../fixtures/tone.m4a");

/// A broadcast of `VOICE` posted through `base`; its voice URL.
async fn post_voice(app: &TestApp, base: &str, token: &str) -> String {
    let form = Form::new().part("voice_file", Part::bytes(VOICE.to_vec()).file_name("v.m4a"));
    let res = app
        .client
        .post(format!("{base}/api/broadcasts"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = parts(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["broadcast"]["voice_url"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, url: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(url).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Every way of asking for a stored file, against the server at `base`.
async fn assert_ranges_and_etags(app: &TestApp, url: &str, token: &str) {
    let size = VOICE.len();
    let whole = get(app, url, token, &[]).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-length"], size.to_string().as_str());
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(
        !whole.headers()["cache-control"]
            .to_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(whole.bytes().await.unwrap().as_ref(), VOICE);

    for (asked, range, content_range) in [
        ("bytes=0-9", 0..10, format!("bytes 0-9/{size}")),
        (
            "bytes=100-",
            100..size,
            format!("bytes 100-{}/{size}", size - 1),
        ),
        (
            "bytes=-16",
            size - 16..size,
            format!("bytes {}-{}/{size}", size - 16, size - 1),
        ),
    ] {
        let part = get(app, url, token, &[("range", asked)]).await;
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "{asked}");
        assert_eq!(part.headers()["content-range"], content_range.as_str());
        assert_eq!(
            part.headers()["content-length"],
            range.len().to_string().as_str()
        );
        assert_eq!(
            part.bytes().await.unwrap().as_ref(),
            &VOICE[range],
            "{asked}"
        );
    }
    let outside = format!("bytes={size}-");
    let refused = get(app, url, token, &[("range", &outside)]).await;
    assert_eq!(refused.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        refused.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
    let cached = get(app, url, token, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    assert!(cached.bytes().await.unwrap().is_empty());
    let stale = get(app, url, token, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(stale.status(), StatusCode::OK);
}

#[tokio::test]
async fn voices_answer_ranges_etags_and_304() {
    let app = spawn_app().await;
    let (poster, listener) = (
        member(&app, "female", 25).await,
        member(&app, "male", 25).await,
    );
    let url = post_voice(&app, &app.url, &poster.token).await;
    assert_ranges_and_etags(&app, &url, &listener.token).await;
}

/// moto's S3 server on a free port, stopped when dropped.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Moto {
    let server = std::env::var("MOTO_SERVER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/.data/venv/bin/moto_server").to_owned()
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{server} (installed by scripts/dev.sh test): {e}"));
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if reqwest::get(&moto.url).await.is_ok() {
            return moto;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moto did not start");
}

#[tokio::test]
async fn with_s3_a_file_uploaded_through_one_node_loads_through_another() {
    let s3 = moto().await;
    let bucket = unique("media");
    let created = reqwest::Client::new()
        .put(format!("{}/{bucket}", s3.url))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let media_url = format!("s3://{bucket}/voxmatch");
    let vars = [
        ("MEDIA_URL", media_url.as_str()),
        ("AWS_ENDPOINT_URL", s3.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    // two nodes, each with a media directory of its own (left empty)
    let a = spawn_app_with(&vars).await;
    let b = spawn_node(&a, &vars).await;

    let form = signup_form(&unique("s3"), "password1", "30", "female").part(
        "profile_image",
        image_part(crate::faults::png_of(40, 30, 30), "me.png"),
    );
    let (status, body) = a.signup_raw(form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["access"].as_str().unwrap().to_owned();
    let (_, profile) = a.get("/api/user/profile/", Some(&token)).await;
    let image = profile["profile_image"].as_str().unwrap();
    let path = image.strip_prefix(&a.url).unwrap();
    let through_b = b.client.get(b.at(path)).send().await.unwrap();
    assert_eq!(through_b.status(), StatusCode::OK);
    let served = through_b.bytes().await.unwrap();
    let through_a = a
        .client
        .get(image)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served, through_a);
    assert_eq!(image::load_from_memory(&served).unwrap().width(), 40);
    assert!(std::fs::read_dir(&a.media).map_or(true, |mut d| d.next().is_none()));

    // a voice posted through A plays through B, ranges and all
    let listener = member(&a, "male", 30).await;
    let url = post_voice(&a, &a.url, &token).await;
    let on_b = url.replacen(&a.url, &b.url, 1);
    assert_ranges_and_etags(&a, &on_b, &listener.token).await;
}
