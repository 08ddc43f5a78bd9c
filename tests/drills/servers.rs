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
}

impl RedisServer {
    fn start(dir: &std::path::Path, args: Vec<String>) -> Self {
        let port = free_port();
        let mut server = RedisServer {
            port,
            child: None,
            args,
        };
        let data = dir.join(port.to_string());
        std::fs::create_dir_all(&data).unwrap();
        let mut base = vec![
            "--port".to_owned(),
            port.to_string(),
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--dir".to_owned(),
            data.display().to_string(),
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
                        "--appendonly yes",
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

    /// Waits until every live node says `cluster_state:ok`.
    pub fn wait_ok(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ok = self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                cli(n.port, &["cluster", "info"]).is_some_and(|i| i.contains("cluster_state:ok"))
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
        let slot: u16 = cli(self.nodes[0].port, &["cluster", "keyslot", key])
            .unwrap()
            .parse()
            .unwrap();
        let shards = cli(self.nodes[0].port, &["cluster", "slots"]).unwrap();
        // lines: start, end, master ip, master port, id, replicas...
        let lines: Vec<&str> = shards.lines().collect();
        for window in lines.windows(4) {
            if let (Ok(start), Ok(end), Ok(port)) = (
                window[0].parse::<u16>(),
                window[1].parse::<u16>(),
                window[3].parse::<u16>(),
            ) && window[2] == "127.0.0.1"
                && (start..=end).contains(&slot)
            {
                return self.nodes.iter().position(|n| n.port == port).unwrap();
            }
        }
        panic!("no master for slot {slot}: {shards}");
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
        while !cli(self.replica.port, &["info", "replication"])
            .is_some_and(|i| i.contains("master_link_status:up"))
        {
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
