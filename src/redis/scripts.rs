//! The Lua scripts under `lua/`, compiled into the binary, loaded once at
//! start and run by SHA (`Redis::run` reloads them after `NOSCRIPT`).

use fred::prelude::*;
use fred::types::scripts::Script;

macro_rules! lua {
    ($path:literal) => {
        Script::from_lua(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/lua/",
            $path
        )))
    };
}

/// A matching script, with the shared preludes `lua/realtime/event.lua` (delivering
/// events) and `lua/matching/lib.lua` before it.
macro_rules! matching_lua {
    ($path:literal) => {
        Script::from_lua(concat!(
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/lua/realtime/event.lua"
            )),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/matching/lib.lua")),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/matching/", $path))
        ))
    };
}

pub struct Scripts {
    pub rotate_refresh: Script,
    pub rate_take: Script,
    pub deliver: Script,
    pub sms_issue: Script,
    pub sms_cancel: Script,
    pub sms_claim_attempt: Script,
    pub sms_confirm: Script,
    pub match_pair: Script,
    pub match_decide: Script,
    pub match_cancel: Script,
    pub match_unpair: Script,
    pub match_confirm: Script,
    pub match_reap: Script,
    pub match_status: Script,
    pub call_start: Script,
    pub call_open: Script,
    pub call_finish: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            rotate_refresh: lua!("auth/rotate_refresh.lua"),
            rate_take: lua!("ratelimit/take.lua"),
            deliver: Script::from_lua(concat!(
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/lua/realtime/event.lua"
                )),
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/lua/realtime/deliver.lua"
                ))
            )),
            sms_issue: lua!("sms/issue_code.lua"),
            sms_cancel: lua!("sms/cancel_code.lua"),
            sms_claim_attempt: lua!("sms/claim_attempt.lua"),
            sms_confirm: lua!("sms/confirm.lua"),
            match_pair: matching_lua!("pair.lua"),
            match_decide: matching_lua!("decide.lua"),
            match_cancel: matching_lua!("cancel.lua"),
            match_unpair: matching_lua!("unpair.lua"),
            match_confirm: matching_lua!("confirm.lua"),
            match_reap: matching_lua!("reap.lua"),
            match_status: matching_lua!("status.lua"),
            call_start: matching_lua!("call_start.lua"),
            call_open: lua!("call/open.lua"),
            call_finish: lua!("call/finish.lua"),
        }
    }
}

impl Scripts {
    fn all(&self) -> [&Script; 17] {
        [
            &self.rotate_refresh,
            &self.rate_take,
            &self.deliver,
            &self.sms_issue,
            &self.sms_cancel,
            &self.sms_claim_attempt,
            &self.sms_confirm,
            &self.match_pair,
            &self.match_decide,
            &self.match_cancel,
            &self.match_unpair,
            &self.match_confirm,
            &self.match_reap,
            &self.match_status,
            &self.call_start,
            &self.call_open,
            &self.call_finish,
        ]
    }

    pub async fn load_all(&self, client: &Client) -> Result<(), fred::error::Error> {
        for script in self.all() {
            script.load(client).await?;
        }
        Ok(())
    }
}
