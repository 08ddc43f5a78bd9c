//! `voxmatch admin grant <username|phone>`: the server's command line is the
//! only way to make an admin (no endpoint can).

use crate::config::Config;
use crate::startup::{connect_postgres, migrate};

/// Grants the admin role; the process's exit code (0 done, 1 no such user, 2 failed).
pub async fn grant(cfg: &Config, who: &str) -> i32 {
    // the role column may be newer than the database
    if let Err(e) = migrate(cfg).await {
        eprintln!("cannot migrate the database: {e}");
        return 2;
    }
    let pool = match connect_postgres(cfg).await {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("cannot reach Postgres: {e}");
            return 2;
        }
    };
    match super::store::grant(&pool, who).await {
        Ok(Some(id)) => {
            println!("user {id} ({who}) is an admin");
            0
        }
        Ok(None) => {
            eprintln!("no user has the username or phone number {who}");
            1
        }
        Err(e) => {
            eprintln!("granting failed: {e}");
            2
        }
    }
}
