//! Private Redis servers for the drills, from Debian's `redis-server` (which
//! `scripts/dev.sh` installs): a Cluster of three masters and three replicas,
//! and a master, a replica and three sentinels. Every process dies with its
//! owner; the drills kill some on purpose.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TempDir, unique};

/// A port that is free, and whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let port = 20000 + rand::random::<u16>() % 10000;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10000) {
            return port;
        }
    }
}

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    args: Vec<String>,
    data: std::path::PathBuf,
}

impl RedisServer {
    fn start(dir: &std::path::Path, args: Vec<String>) -> Self {
        let port = free_port();
        let data = dir.join(port.to_string());
        let mut server = RedisServer {
            port,
            child: None,
            args,
            data: data.clone(),
        };
        std::fs::create_dir_all(&data).unwrap();
        let mut base = vec![
            "--port".to_owned(),
            port.to_string(),
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--dir".to_owned(),
            data.display().to_string(),
            "--logfile".to_owned(),
            data.join("redis.log").display().to_string(),
        ];
        let sentinel = server.args.iter().any(|a| a == "--sentinel");
        if !sentinel {
            base.extend(["--save".to_owned(), String::new()]);
        }
        // a configuration file, when there is one, comes first
        let at = usize::from(server.args.first().is_some_and(|a| !a.starts_with("--")));
        server.args.splice(at..at, base);
        server.spawn();
        server
    }

    /// The last `n` lines of the server's log.
    fn log_tail(&self, n: usize) -> String {
        let log = self.data.join("redis.log");
        let text =
            std::fs::read_to_string(&log).unwrap_or_else(|e| format!("{}: {e}", log.display()));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (installed by scripts/dev.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while cli(self.port, &["ping"]).as_deref() != Some("PONG") {
            assert!(
                Instant::now() < deadline,
                "redis on {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A master, or a replica whose link to its master is up.
    pub fn in_sync(&self) -> bool {
        cli(self.port, &["info", "replication"])
            .is_some_and(|i| i.contains("role:master") || i.contains("master_link_status:up"))
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again with the same arguments and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `redis-cli -p port args...`: its output, trimmed; `None` when it failed.
pub fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub struct Cluster {
    pub nodes: Vec<RedisServer>,
    _dir: TempDir,
}

impl Cluster {
    /// Three masters and three replicas, formed and `cluster_state:ok`.
    pub fn start() -> Self {
        let dir = TempDir(std::env::temp_dir().join(unique("drill-cluster-")));
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                RedisServer::start(
                    &dir.0,
                    [
                        "--cluster-enabled yes",
                        "--cluster-config-file nodes.conf",
                        "--cluster-node-timeout 2000",
                        // a replica's first sync starts at once, not 5 s later
                        "--repl-diskless-sync-delay 0",
                    ]
                    .iter()
                    .flat_map(|a| a.split(' ').map(str::to_owned))
                    .collect(),
                )
            })
            .collect();
        let mut create = vec!["--cluster".to_owned(), "create".to_owned()];
        create.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
        create.extend(["--cluster-replicas", "1", "--cluster-yes"].map(str::to_owned));
        let created = Command::new("redis-cli")
            .args(&create)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(created.success());
        let cluster = Cluster { nodes, _dir: dir };
        cluster.wait_ok(Duration::from_secs(20));
        cluster
    }

    pub fn url(&self) -> String {
        let mut url = format!("redis-cluster://127.0.0.1:{}", self.nodes[0].port);
        for (i, node) in self.nodes.iter().enumerate().skip(1).take(2) {
            url.push(if i == 1 { '?' } else { '&' });
            url.push_str(&format!("node=127.0.0.1:{}", node.port));
        }
        url
    }

    /// Waits until every live node says `cluster_state:ok` and every replica
    /// is in sync: a replica that never finished its first sync refuses to be
    /// promoted ("Disconnected from master for longer than allowed"), so a
    /// master killed before that would never fail over.
    pub fn wait_ok(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ok = self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                cli(n.port, &["cluster", "info"]).is_some_and(|i| i.contains("cluster_state:ok"))
                    && n.in_sync()
            });
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The index of the master that holds `key`'s slot.
    pub fn master_of(&self, key: &str) -> usize {
        self.slot_master(key).expect("a master for the key's slot")
    }

    /// The master of `key`'s slot as the first live node sees it (`None`
    /// while it does not answer).
    fn slot_master(&self, key: &str) -> Option<usize> {
        let port = self.nodes.iter().find(|n| n.child.is_some())?.port;
        let slot: u16 = cli(port, &["cluster", "keyslot", key])?.parse().ok()?;
        let shards = cli(port, &["cluster", "slots"])?;
        // lines: start, end, master ip, master port, id, replicas...
        let lines: Vec<&str> = shards.lines().collect();
        lines.windows(4).find_map(|window| {
            let (start, end, port) = (
                window[0].parse::<u16>().ok()?,
                window[1].parse::<u16>().ok()?,
                window[3].parse::<u16>().ok()?,
            );
            (window[2] == "127.0.0.1" && (start..=end).contains(&slot))
                .then(|| self.nodes.iter().position(|n| n.port == port))
                .flatten()
        })
    }

    /// How long after `killed` Redis itself had `key`'s slot on a new master
    /// (other than `victim`) that says `cluster_state:ok`; `None` if not within `within`.
    pub fn promoted(
        &self,
        victim: usize,
        key: &str,
        killed: Instant,
        within: Duration,
    ) -> Option<Duration> {
        while killed.elapsed() < within {
            if let Some(master) = self.slot_master(key)
                && master != victim
                && cli(self.nodes[master].port, &["cluster", "info"])
                    .is_some_and(|i| i.contains("cluster_state:ok"))
            {
                return Some(killed.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Starts moving `key`'s slot from its master to another (`MIGRATING` on
    /// the one, `IMPORTING` on the other), as a resharding does; returns the
    /// slot and the two masters' indexes.
    pub fn migrate_start(&self, key: &str) -> (u16, usize, usize) {
        let from = self.master_of(key);
        let to = (0..self.nodes.len())
            .find(|&i| {
                i != from
                    && cli(self.nodes[i].port, &["role"]).is_some_and(|r| r.starts_with("master"))
            })
            .expect("another master");
        let slot: u16 = cli(self.nodes[from].port, &["cluster", "keyslot", key])
            .unwrap()
            .parse()
            .unwrap();
        let (slot_arg, from_id, to_id) = (slot.to_string(), self.id(from), self.id(to));
        let importing = ["cluster", "setslot", &slot_arg, "importing", &from_id];
        assert_eq!(cli(self.nodes[to].port, &importing).as_deref(), Some("OK"));
        let migrating = ["cluster", "setslot", &slot_arg, "migrating", &to_id];
        assert_eq!(
            cli(self.nodes[from].port, &migrating).as_deref(),
            Some("OK")
        );
        (slot, from, to)
    }

    /// Ends a migration begun by `migrate_start`: the slot is `to`'s.
    pub fn migrate_end(&self, slot: u16, from: usize, to: usize) {
        let (slot_arg, to_id) = (slot.to_string(), self.id(to));
        for node in [to, from] {
            let owner = ["cluster", "setslot", &slot_arg, "node", &to_id];
            assert_eq!(cli(self.nodes[node].port, &owner).as_deref(), Some("OK"));
        }
    }

    fn id(&self, node: usize) -> String {
        cli(self.nodes[node].port, &["cluster", "myid"]).unwrap()
    }

    /// The last lines of every node's log.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let nodes = cli(n.port, &["cluster", "nodes"]).unwrap_or_default();
                format!("--- redis {}:\n{nodes}\n{}\n", n.port, n.log_tail(30))
            })
            .collect()
    }
}

pub struct Sentinels {
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
    _dir: TempDir,
}

impl Sentinels {
    /// A master, its replica, and three sentinels watching them as `voxmatch`.
    pub fn start() -> Self {
        let dir = TempDir(std::env::temp_dir().join(unique("drill-sentinel-")));
        let master = RedisServer::start(&dir.0, vec!["--appendonly".into(), "yes".into()]);
        let replica = RedisServer::start(
            &dir.0,
            vec![
                "--appendonly".into(),
                "yes".into(),
                "--replicaof".into(),
                "127.0.0.1".into(),
                master.port.to_string(),
            ],
        );
        let sentinels = (0..3)
            .map(|i| {
                let conf: PathBuf = dir.0.join(format!("sentinel-{i}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "sentinel monitor voxmatch 127.0.0.1 {} 2\n\
                         sentinel down-after-milliseconds voxmatch 1000\n\
                         sentinel failover-timeout voxmatch 5000\n",
                        master.port
                    ),
                )
                .unwrap();
                RedisServer::start(
                    &dir.0,
                    vec![conf.display().to_string(), "--sentinel".into()],
                )
            })
            .collect();
        let set = Sentinels {
            master,
            replica,
            sentinels,
            _dir: dir,
        };
        set.wait_replica_up();
        set
    }

    /// Waits until the replica is in sync with its master.
    pub fn wait_replica_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.replica.in_sync() {
            assert!(Instant::now() < deadline, "the replica did not sync");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        let mut url = format!(
            "redis-sentinel://127.0.0.1:{}?sentinelServiceName=voxmatch",
            self.sentinels[0].port
        );
        for s in &self.sentinels[1..] {
            url.push_str(&format!("&node=127.0.0.1:{}", s.port));
        }
        url
    }
}
