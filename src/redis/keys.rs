//! Every Redis key name and its hash tag, in one place.
//!
//! A key's `{...}` part is its Redis Cluster hash tag: keys that one script
//! touches share it, everything else is tagged by its owner (session, phone,
//! client address) so that keys spread evenly over Cluster masters.

#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

/// A pool shard's key prefix (with its hash tag, `T`) and `T:seen`, the key
/// that routes its scripts to the shard's slot (`lua/matching/lib.lua`).
pub struct PoolKeys {
    pub prefix: String,
    pub seen: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// `uid:jti` of a login session; gone once the session is revoked.
    pub fn session(&self, sid: &str) -> String {
        format!("{}sess:{{{sid}}}", self.prefix)
    }

    /// The ids of a user's login sessions (to end them all at once).
    pub fn user_sessions(&self, uid: i64) -> String {
        format!("{}usess:{{{uid}}}", self.prefix)
    }

    /// The key prefix of one matching shard, hash tag included: every key a
    /// matching script touches starts with it, so a shard is one Cluster slot.
    pub fn pool(&self, shard: &str) -> String {
        format!("{}{{pool:{shard}}}", self.prefix)
    }

    /// `pool` and its routing key, for every shard: built once (`Redis::pools`).
    pub fn pools(&self, shards: &[String]) -> Vec<PoolKeys> {
        shards
            .iter()
            .map(|name| {
                let prefix = self.pool(name);
                let seen = format!("{prefix}:seen");
                PoolKeys { prefix, seen }
            })
            .collect()
    }

    /// A call session: `match_id a b started [ended]`.
    pub fn call(&self, session: &str) -> String {
        format!("{}call:{{{session}}}", self.prefix)
    }

    /// Live calls by the last sign of life of either side (ms): what the reaper reads.
    pub fn active_calls(&self) -> String {
        format!("{}{{calls}}:active", self.prefix)
    }

    /// The session id of the user's current call.
    pub fn user_call(&self, uid: i64) -> String {
        format!("{}ucall:{{{uid}}}", self.prefix)
    }

    /// The pub/sub channel that carries every realtime event to every node
    /// (a single Redis; a Cluster uses each user's sharded channel instead).
    pub fn events_channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// The channel of invalidations every node hears (a sharded one on a Cluster:
    /// one slot, so one master carries it).
    pub fn invalidations_channel(&self) -> String {
        format!("{}{{invalidations}}", self.prefix)
    }

    /// The prefix of keys and channels, as scripts build them.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A user's recent events (a stream, for clients that reconnect); in the user's slot.
    pub fn user_events(&self, uid: i64) -> String {
        format!("{}{{u:{uid}}}:ev", self.prefix)
    }

    /// A user's sharded event channel (a Cluster); in the user's slot.
    pub fn user_channel(&self, uid: i64) -> String {
        format!("{}{{u:{uid}}}:ch", self.prefix)
    }

    /// The nodes where the user holds a WebSocket or SSE stream (a sorted set:
    /// node id -> until when its claim holds, ms); in the user's slot.
    pub fn presence(&self, uid: i64) -> String {
        format!("{}{{u:{uid}}}:presence", self.prefix)
    }

    /// When the user was last online (unix ms), kept long after they left; in the user's slot.
    pub fn last_seen(&self, uid: i64) -> String {
        format!("{}{{u:{uid}}}:seen", self.prefix)
    }

    /// Set once an event (`what`: `message:<id>`, `match:<id>`...) was pushed to
    /// the user, so that no node pushes it twice; in the user's slot.
    pub fn pushed(&self, uid: i64, what: &str) -> String {
        format!("{}{{u:{uid}}}:pushed:{what}", self.prefix)
    }

    /// A fixed-window counter for one limit (`kind`) of one subject (user, phone, address).
    pub fn rate(&self, kind: &str, subject: &str) -> String {
        format!("{}rl:{kind}:{{{subject}}}", self.prefix)
    }

    /// The four keys of one phone's SMS verification state, sharing the phone's tag.
    pub fn sms(&self, phone: &str) -> SmsKeys {
        let p = &self.prefix;
        SmsKeys {
            code: format!("{p}sms:{{{phone}}}:code"),
            cooldown: format!("{p}sms:{{{phone}}}:cooldown"),
            daily: format!("{p}sms:{{{phone}}}:daily"),
            verified: format!("{p}sms:{{{phone}}}:verified"),
        }
    }
}

pub struct SmsKeys {
    /// Hash: `h` (keyed hash of the code), `attempts`, `exp` (unix seconds).
    pub code: String,
    /// Exists while a new code may not be sent yet.
    pub cooldown: String,
    /// Codes sent in the current 24-hour window.
    pub daily: String,
    /// Unix seconds of the last successful verification, for 30 minutes.
    pub verified: String,
}
