//! The `/demo/` web client: its files are served, and two headless Chromium
//! pages in auto mode sign up, match, and hold a real WebRTC voice call
//! (driven through chromedriver's W3C WebDriver HTTP protocol).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn demo_files_are_served_and_fetch_nothing_from_elsewhere() {
    let app = spawn_app().await;
    for (path, content_type, marker) in [
        ("/demo/", "text/html", "<script src=\"app.js\">"),
        ("/demo/app.js", "text/javascript", "/api/match/random/"),
        ("/demo/style.css", "text/css", "body"),
    ] {
        let res = app.client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let served = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(served.starts_with(content_type), "{path}: {served}");
        let text = res.text().await.unwrap();
        assert!(text.contains(marker), "{path} lacks {marker:?}");
        for scheme in ["http://", "https://"] {
            assert!(!text.contains(scheme), "{path} refers to {scheme} URLs");
        }
    }
    // the page's links are relative: `/demo` sends the browser to `/demo/`
    let client = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.at("/demo")).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/demo/");
}

fn executable(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// chromedriver and its browser sessions, ended even when the test fails.
struct Driver {
    child: Child,
    port: u16,
    http: Client,
    sessions: Vec<String>,
}

impl Driver {
    async fn start(chromedriver: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            port,
            http: Client::builder().no_proxy().build().unwrap(),
            sessions: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver.call("GET", "/status", None).await;
            if ready.is_ok_and(|v| v["value"]["ready"] == true) {
                return driver;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A WebDriver command; its JSON answer, or the error it gave.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let res = req
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let value: Value = res.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{method} {path}: {status} {value}"))
        }
    }

    async fn new_session(&mut self, chromium: &Path) -> String {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "timeouts": {"script": 60_000},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    "--autoplay-policy=no-user-gesture-required",
                    "--disable-features=WebRtcHideLocalIpsWithMdns",
                ],
            },
        }}});
        let answer = self
            .call("POST", "/session", Some(caps))
            .await
            .expect("a browser session");
        let id = answer["value"]["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_owned();
        self.sessions.push(id.clone());
        id
    }

    async fn goto(&self, session: &str, url: &str) {
        self.call(
            "POST",
            &format!("/session/{session}/url"),
            Some(json!({ "url": url })),
        )
        .await
        .expect("navigates");
    }

    async fn title(&self, session: &str) -> String {
        match self
            .call("GET", &format!("/session/{session}/title"), None)
            .await
        {
            Ok(v) => v["value"].as_str().unwrap_or_default().to_owned(),
            Err(e) => format!("(no title: {e})"),
        }
    }

    /// What the page logged: its own log panel and the browser console.
    async fn logs(&self, session: &str) -> String {
        let script =
            json!({"script": "return document.getElementById('log').textContent", "args": []});
        let panel = self
            .call(
                "POST",
                &format!("/session/{session}/execute/sync"),
                Some(script),
            )
            .await
            .map(|v| v["value"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|e| e);
        let console = self
            .call(
                "POST",
                &format!("/session/{session}/se/log"),
                Some(json!({"type": "browser"})),
            )
            .await
            .map(|v| {
                v["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| format!("{} {}", e["level"], e["message"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_else(|e| e);
        format!("page log (newest first):\n{panel}\nconsole:\n{console}")
    }

    /// Runs `body` as an async function in the page (with the demo's `$` and
    /// `S`, and `until(f)`, which waits up to 20 s for `f()` to be truthy);
    /// panics with the pages' logs when it throws.
    async fn run(&self, pages: &[String], page: usize, what: &str, body: &str) -> String {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const until = async (f) => {{
               for (const end = Date.now() + 20000; Date.now() < end;) {{
                 const v = f(); if (v) return v;
                 await new Promise((r) => setTimeout(r, 100));
               }}
               throw new Error('timed out waiting for ' + f);
             }};
             const pause = (ms) => new Promise((r) => setTimeout(r, ms));
             (async () => {{ {body} }})().then((v) => done(String(v)), (e) => done('error: ' + e.message));"
        );
        let answer = self
            .call(
                "POST",
                &format!("/session/{}/execute/async", pages[page]),
                Some(json!({"script": script, "args": []})),
            )
            .await
            .map(|v| v["value"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|e| format!("error: {e}"));
        if answer.starts_with("error: ") {
            let mut report = format!("page {page}: {what}: {answer}\n");
            for (n, p) in pages.iter().enumerate() {
                report += &format!("--- page {n}\n{}\n", self.logs(p).await);
            }
            panic!("{report}");
        }
        answer
    }

    async fn screenshot(&self, session: &str) -> Vec<u8> {
        let shot = self
            .call("GET", &format!("/session/{session}/screenshot"), None)
            .await
            .expect("a screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(shot["value"].as_str().expect("base64 PNG"))
            .expect("valid base64")
    }

    async fn close(&mut self) {
        for session in std::mem::take(&mut self.sessions) {
            let _ = self
                .call("DELETE", &format!("/session/{session}"), None)
                .await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // no runtime here: plain HTTP/1.1 on a blocking socket
        for session in std::mem::take(&mut self.sessions) {
            if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                if conn.write_all(request.as_bytes()).is_ok() {
                    let _ = conn.read_to_end(&mut Vec::new());
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_pages_hold_a_webrtc_voice_call() {
    let chromedriver = executable("CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = executable("CHROMIUM", "/usr/bin/chromium");
    if !chromedriver.exists() || !chromium.exists() {
        let note = format!(
            "needs {} and {}",
            chromedriver.display(),
            chromium.display()
        );
        assert!(
            std::env::var("VOXMATCH_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "{note} (VOXMATCH_REQUIRE_CHROMIUM=1)"
        );
        eprintln!("skipped: {note}");
        return;
    }

    let app = spawn_app().await;
    let mut driver = Driver::start(&chromedriver).await;
    let mut pages = Vec::new();
    for gender in ["male", "female"] {
        let session = driver.new_session(&chromium).await;
        let url = format!(
            "{}/demo/?auto=1&username={}&password=demo-password&age=25&gender={gender}&preferred_gender=all",
            app.url,
            unique("demo")
        );
        driver.goto(&session, &url).await;
        pages.push(session);
    }

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut titles = Vec::new();
        for page in &pages {
            titles.push(driver.title(page).await);
        }
        if titles.iter().all(|t| t == "voxmatch: connected") {
            break;
        }
        let failed = titles.iter().any(|t| t.starts_with("voxmatch: error"));
        if failed || Instant::now() > deadline {
            let mut report = format!("the demo pages did not connect: {titles:?}\n");
            for (n, page) in pages.iter().enumerate() {
                report += &format!("--- page {n}\n{}\n", driver.logs(page).await);
            }
            panic!("{report}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // audio flows: keep a picture of the call (in target/, or for the README's
    // docs/screenshots/ with VOXMATCH_UPDATE_SCREENSHOTS=1)
    let png = driver.screenshot(&pages[0]).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let folder = if std::env::var_os("VOXMATCH_UPDATE_SCREENSHOTS").is_some() {
        "docs/screenshots"
    } else {
        "target/screenshots"
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("demo-call.png"), png).unwrap();

    // the rest of the client, as a person would use it
    let (a, b) = (0, 1);
    let pages = &pages;
    let ended = "$('end-call').click(); await until(() => !$('rate').hidden); return $('queue').textContent";
    let said = driver.run(pages, a, "end the call", ended).await;
    assert!(said.starts_with("Call ended"), "{said}");
    let heard = "await until(() => !$('rate').hidden); return $('queue').textContent";
    let said = driver.run(pages, b, "hear the call end", heard).await;
    assert!(said.starts_with("Call ended"), "{said}");
    let rated = "$('rate-form').querySelector('button').click();
        await until(() => $('rate').hidden);
        await until(() => $('history-list').querySelector('button'));
        return $('history-list').textContent";
    driver.run(pages, a, "rate the call", rated).await;

    let record = "$('record').click(); await until(() => S.recorder); await pause(1500);
        $('record').click(); await until(() => !S.recorder && S.clip);";
    let posted = format!(
        "{record} $('post-broadcast').click();
         return await until(() => ['Broadcast posted.', 'error'].find((t) => $('status').textContent.includes(t)))"
    );
    let said = driver
        .run(pages, a, "record and post a broadcast", &posted)
        .await;
    assert_eq!(said, "Broadcast posted.");
    let played = "$('broadcasts-reload').click();
        const audio = await until(() => $('broadcasts').querySelector('audio'));
        const res = await fetch(audio.src);
        return `${res.status} ${(await res.arrayBuffer()).byteLength}`";
    let said = driver
        .run(pages, b, "fetch the broadcast's voice", played)
        .await;
    assert!(said.starts_with("200 "), "{said}");
    let replied = format!(
        "{record} $('broadcasts').querySelector('button').click();
         await until(() => $('messages').children.length);
         return $('status').textContent"
    );
    let said = driver.run(pages, b, "reply with a clip", &replied).await;
    assert_eq!(said, "Reply sent.");
    let answered = "const open = await until(() => $('conversations').querySelector('button'));
        open.click(); await until(() => $('messages').children.length === 1);
        $('send-message').click(); await until(() => $('messages').children.length === 2);
        return $('status').textContent";
    let said = driver
        .run(pages, a, "answer in the conversation", answered)
        .await;
    assert_eq!(said, "Message sent.");
    let got =
        "await until(() => $('messages').children.length === 2); return $('status').textContent";
    let said = driver.run(pages, b, "receive the message", got).await;
    assert_eq!(said, "New voice message.");
    driver.close().await;
}
