"""Checks the deployment files with what runs here (no Docker engine on the build
machines): docker-compose.yml parses and holds a working stack, and every voxmatch
command the Dockerfile and the compose file run is one the binary accepts.

Usage: python3 scripts/check_deploy.py path/to/voxmatch"""
import json
import re
import subprocess
import sys

import yaml

binary = sys.argv[1]
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


compose = yaml.safe_load(open("docker-compose.yml"))
services = compose["services"]
for name in ("redis", "postgres", "app"):
    check("healthcheck" in services[name] or name == "app", f"{name}: no healthcheck")
check("--appendonly" in services["redis"]["command"]
      and services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1] == "yes",
      "redis: AOF is off")
app = services["app"]
check(app.get("restart") in ("always", "unless-stopped"), "app: no restart policy")
for dep in ("redis", "postgres"):
    check(app["depends_on"].get(dep, {}).get("condition") == "service_healthy",
          f"app: does not wait for a healthy {dep}")
check(any(v.endswith(":/data/media") for v in app.get("volumes", [])), "app: no media volume")

cluster = {n: s for n, s in services.items() if "cluster" in s.get("profiles", [])}
nodes = [n for n in cluster if n.startswith("redis-node-")]
check(len(nodes) == 6, f"cluster profile: {len(nodes)} Redis nodes, not 6")
apps = [n for n in cluster if n.startswith("app-")]
check(len(apps) == 2, "cluster profile: not two app nodes")
for name in apps:
    env = cluster[name]["environment"]
    check(env["REDIS_URL"].startswith("redis-cluster://"), f"{name}: not on the Cluster")
check("proxy" in cluster, "cluster profile: no proxy")
nginx = open("deploy/nginx.conf").read()
for name in apps:
    check(f"server {name}:8080" in nginx, f"nginx.conf: no upstream {name}")
check("Upgrade $http_upgrade" in nginx, "nginx.conf: WebSockets are not proxied")

dockerfile = open("Dockerfile").read()
check(re.search(r"^ENV .*BIND_ADDR=0\.0\.0\.0:8080", dockerfile, re.M) is not None,
      "Dockerfile: the app does not bind 0.0.0.0")
check("chown nobody" in dockerfile, "Dockerfile: the media directory is not writable by the app")
commands = [json.loads(m) for m in re.findall(r'(?:CMD|ENTRYPOINT)\s+(\[.*?\])', dockerfile)]
commands += [s["command"] for s in services.values()
             if isinstance(s.get("command"), list) and s["command"][:1] == ["voxmatch"]]
check(any(c[:1] == ["voxmatch"] for c in commands), "Dockerfile: no voxmatch command")
for command in commands:
    if command[:1] != ["voxmatch"]:
        continue
    # the subcommand (and its flags) must be the binary's own
    words = [w for w in command[1:] if w.startswith("-") or re.fullmatch(r"[a-z-]+", w)]
    run = subprocess.run([binary, *words, "--help"], capture_output=True)
    check(run.returncode == 0, f"{' '.join(command)}: the binary refuses it: {run.stderr.decode()[:200]}")

if problems:
    print("deployment files:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"deployment files: docker-compose.yml ({len(services)} services) and the Dockerfile check out")
