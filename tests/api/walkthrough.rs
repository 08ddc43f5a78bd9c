//! The README's curl walkthrough (`scripts/walkthrough.sh`) against a test
//! server, and a Python client generated from `/api/openapi.json` with
//! `openapi-python-client` (installed into `.data/venv` by `scripts/dev.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::StatusCode;

use crate::helpers::{TempDir, spawn_app, unique};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command off the async runtime; its output whatever the exit status.
async fn run(mut command: Command) -> Output {
    let shown = format!("{command:?}");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{shown} does not start: {e}"))
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn the_readme_walkthrough_runs_against_the_server() {
    let app = spawn_app().await;
    let mut command = Command::new("bash");
    command
        .arg(root().join("scripts/walkthrough.sh"))
        .arg(&app.url)
        .current_dir(root());
    let output = run(command).await;
    assert!(
        output.status.success(),
        "scripts/walkthrough.sh failed: {}",
        describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("walkthrough: every step answered as expected"),
        "{}",
        describe(&output)
    );
}

/// The tools of `.data/venv`, or None (the test skips) when they are missing
/// and `VOXMATCH_REQUIRE_TOOLS=1` is not set.
fn python_tools() -> Option<(PathBuf, PathBuf)> {
    let bin = root().join(".data/venv/bin");
    let (python, generator) = (bin.join("python"), bin.join("openapi-python-client"));
    if python.exists() && generator.exists() {
        return Some((python, generator));
    }
    let note = format!(
        "{} missing: run `scripts/dev.sh test` (ensure_moto installs it)",
        generator.display()
    );
    if std::env::var("VOXMATCH_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{note}");
    }
    eprintln!("skipped: {note}");
    None
}

#[tokio::test]
async fn a_python_client_generated_from_the_openapi_document_imports() {
    let Some((python, generator)) = python_tools() else {
        return;
    };
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.at("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let document = res.bytes().await.unwrap();

    let dir = TempDir(std::env::temp_dir().join(unique("voxmatch-client-")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let spec = dir.0.join("openapi.json");
    std::fs::write(&spec, &document).unwrap();
    let package: &Path = Path::new("voxmatch_client");
    // no formatter runs after generating (ruff is not installed)
    let config = dir.0.join("config.yml");
    std::fs::write(&config, "post_hooks: []\n").unwrap();

    let mut generate = Command::new(&generator);
    generate
        .arg("generate")
        .arg("--path")
        .arg(&spec)
        .arg("--output-path")
        .arg(dir.0.join(package))
        .args(["--meta", "none", "--fail-on-warning", "--config"])
        .arg(&config)
        .current_dir(&dir.0);
    let output = run(generate).await;
    assert!(
        output.status.success(),
        "openapi-python-client generate failed: {}",
        describe(&output)
    );
    // --fail-on-warning: an endpoint the generator cannot read fails the test

    // every generated module imports (models and one module per endpoint)
    let mut import = Command::new(&python);
    import
        .args([
            "-c",
            "import importlib, pkgutil, voxmatch_client\n\
             names = [m.name for m in pkgutil.walk_packages(voxmatch_client.__path__, 'voxmatch_client.')]\n\
             for name in names: importlib.import_module(name)\n\
             from voxmatch_client import AuthenticatedClient\n\
             print(len(names), 'modules')",
        ])
        .env("PYTHONPATH", &dir.0)
        .current_dir(&dir.0);
    let output = run(import).await;
    assert!(
        output.status.success(),
        "the generated client does not import: {}",
        describe(&output)
    );
}
