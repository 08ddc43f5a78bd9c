//! The Lua scripts under `lua/`, compiled into the binary and loaded once at
//! start: the small ones as scripts run by SHA (`Redis::run` reloads them after
//! `NOSCRIPT`), the matching ones as the functions of one Redis Functions library
//! (`Redis::call_on` reloads it when Redis lost it).

use fred::prelude::*;
use fred::types::scripts::Script;

/// The text of a file under `lua/`.
macro_rules! source {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/", $path))
    };
}

/// A script of one file under `lua/`.
macro_rules! lua {
    ($path:literal) => {
        Script::from_lua(source!($path))
    };
}

/// The matching scripts (`lua/matching/`), by the name of their function.
const MATCHING: [(&str, &str); 8] = [
    ("pair", source!("matching/pair.lua")),
    ("decide", source!("matching/decide.lua")),
    ("cancel", source!("matching/cancel.lua")),
    ("unpair", source!("matching/unpair.lua")),
    ("confirm", source!("matching/confirm.lua")),
    ("reap", source!("matching/reap.lua")),
    ("status", source!("matching/status.lua")),
    ("call_start", source!("matching/call_start.lua")),
];

/// A function of the matching library, by its name in Redis.
pub struct Function {
    pub name: String,
}

/// The matching scripts as one Redis Functions library. Its preludes
/// (`lua/realtime/event.lua`, `lua/matching/lib.lua`, `lua/matching/search.lua`)
/// run once when it is loaded, not on every call (~15k Redis instructions a call,
/// BENCHMARKS.md); each script is the body of a `function(KEYS, ARGV)`. Library
/// and function names carry a hash of the sources, so nodes of two releases side
/// by side each call their own code.
pub struct Library {
    pub code: String,
    version: String,
}

impl Library {
    fn build() -> Self {
        let preludes = [
            source!("realtime/event.lua"),
            source!("matching/lib.lua"),
            source!("matching/search.lua"),
        ];
        let mut all = preludes.concat();
        for (name, lua) in MATCHING {
            all.push_str(name);
            all.push_str(lua);
        }
        let version = fred::util::sha1_hash(&all)[..12].to_owned();
        let mut code = format!("#!lua name=voxmatch_{version}\n");
        code.push_str(&preludes.concat());
        for (name, lua) in MATCHING {
            code.push_str(&format!(
                "redis.register_function('{name}_{version}', function(KEYS, ARGV)\nbegin(ARGV)\n{lua}\nend)\n"
            ));
        }
        Library { code, version }
    }

    fn function(&self, name: &str) -> Function {
        debug_assert!(MATCHING.iter().any(|(n, _)| *n == name));
        Function {
            name: format!("{name}_{}", self.version),
        }
    }

    /// Loads the library on every master (again: the same code, harmless).
    pub async fn load(&self, client: &Client) -> Result<(), fred::error::Error> {
        let _: Value = client
            .function_load_cluster(true, self.code.as_str())
            .await?;
        Ok(())
    }
}

pub struct Scripts {
    pub library: Library,
    pub rotate_refresh: Script,
    pub rate_take: Script,
    pub deliver: Script,
    pub sms_issue: Script,
    pub sms_cancel: Script,
    pub sms_claim_attempt: Script,
    pub sms_confirm: Script,
    pub match_pair: Function,
    pub match_decide: Function,
    pub match_cancel: Function,
    pub match_unpair: Function,
    pub match_confirm: Function,
    pub match_reap: Function,
    pub match_status: Function,
    pub call_start: Function,
    pub call_open: Script,
    pub call_finish: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        let library = Library::build();
        Scripts {
            rotate_refresh: lua!("auth/rotate_refresh.lua"),
            rate_take: lua!("ratelimit/take.lua"),
            deliver: Script::from_lua(concat!(
                source!("realtime/event.lua"),
                source!("realtime/deliver.lua")
            )),
            sms_issue: lua!("sms/issue_code.lua"),
            sms_cancel: lua!("sms/cancel_code.lua"),
            sms_claim_attempt: lua!("sms/claim_attempt.lua"),
            sms_confirm: lua!("sms/confirm.lua"),
            match_pair: library.function("pair"),
            match_decide: library.function("decide"),
            match_cancel: library.function("cancel"),
            match_unpair: library.function("unpair"),
            match_confirm: library.function("confirm"),
            match_reap: library.function("reap"),
            match_status: library.function("status"),
            call_start: library.function("call_start"),
            call_open: lua!("call/open.lua"),
            call_finish: lua!("call/finish.lua"),
            library,
        }
    }
}

impl Scripts {
    fn all(&self) -> [&Script; 9] {
        [
            &self.rotate_refresh,
            &self.rate_take,
            &self.deliver,
            &self.sms_issue,
            &self.sms_cancel,
            &self.sms_claim_attempt,
            &self.sms_confirm,
            &self.call_open,
            &self.call_finish,
        ]
    }

    pub async fn load_all(&self, client: &Client) -> Result<(), fred::error::Error> {
        for script in self.all() {
            script.load(client).await?;
        }
        self.library.load(client).await
    }
}
