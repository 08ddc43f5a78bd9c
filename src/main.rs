//! `voxmatch` serves; `voxmatch healthcheck` asks a running server whether it
//! is ready (for container healthchecks, where no curl is installed);
//! `voxmatch admin grant <username|phone>` makes a user an admin.

use clap::{Parser, Subcommand};
use voxmatch::config::Config;
use voxmatch::startup::{Application, shutdown_signal};

#[derive(Parser)]
#[command(
    about = "voxmatch: the backend of a voice-social app (configured by environment variables)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Exit 0 when the server at URL answers /readyz with 200, 1 otherwise.
    Healthcheck {
        #[arg(default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Administration of the deployment's database.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make the user with this username (any case) or phone number an admin.
    Grant { who: String },
}

#[tokio::main]
async fn main() {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Healthcheck { url } => std::process::exit(healthcheck(&url).await),
        Command::Admin {
            command: AdminCommand::Grant { who },
        } => std::process::exit(voxmatch::admin::cli::grant(&config(), &who).await),
    }
}

fn config() -> Config {
    match Config::from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("configuration: {e}");
            std::process::exit(2);
        }
    }
}

async fn serve() {
    voxmatch::telemetry::init();
    let cfg = match Config::from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            tracing::error!("configuration: {e}");
            std::process::exit(2);
        }
    };
    tracing::info!(config = ?cfg, "starting");
    match Application::build(cfg).await {
        Ok(app) => app.run_until(shutdown_signal()).await,
        Err(e) => {
            tracing::error!("start-up failed: {e}");
            std::process::exit(1);
        }
    }
}

async fn healthcheck(url: &str) -> i32 {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .expect("an HTTP client builds");
    match client
        .get(format!("{}/readyz", url.trim_end_matches('/')))
        .send()
        .await
    {
        Ok(res) if res.status().is_success() => 0,
        Ok(res) => {
            eprintln!("not ready: {}", res.status());
            1
        }
        Err(e) => {
            eprintln!("no answer: {e}");
            1
        }
    }
}
