//! Match ids: unique forever, even when Redis restarts empty.
//!
//! A node takes a block of `BLOCK` sequence numbers from Postgres
//! (`match_id_blocks`) and hands them out from memory; a match id is
//! `seq * MAX_SHARDS + shard index`, so the id also tells which shard holds
//! the match. Ids stay far below 2^53 (safe in JavaScript clients).

use std::sync::Mutex;

use sqlx::PgPool;

use crate::error::ApiResult;

const BLOCK: i64 = 1000;
pub const MAX_SHARDS: i64 = 64;

#[derive(Default)]
pub struct MatchIds {
    /// The next sequence number and the end of the current block.
    range: Mutex<(i64, i64)>,
}

impl MatchIds {
    /// A fresh match id in `shard` (its index in `MATCH_SHARDS`).
    pub async fn next(&self, db: &PgPool, shard: usize) -> ApiResult<i64> {
        loop {
            {
                let mut range = self.range.lock().expect("match id lock");
                if range.0 < range.1 {
                    let seq = range.0;
                    range.0 += 1;
                    return Ok(seq * MAX_SHARDS + shard as i64);
                }
            }
            // boxed: a refill is rare, and sqlx's future would grow every pairing's
            let block: i64 =
                Box::pin(sqlx::query_scalar("SELECT nextval('match_id_blocks')").fetch_one(db))
                    .await?;
            let mut range = self.range.lock().expect("match id lock");
            // another task may have refilled meanwhile; the newer block wins, none is reused
            if range.0 >= range.1 {
                *range = (block * BLOCK, (block + 1) * BLOCK);
            }
        }
    }
}

/// The shard index a match id belongs to.
pub fn shard_of(match_id: i64) -> usize {
    match_id.rem_euclid(MAX_SHARDS) as usize
}
