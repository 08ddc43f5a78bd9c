use voxmatch::config::Config;
use voxmatch::startup::{Application, shutdown_signal};

#[tokio::main]
async fn main() {
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
