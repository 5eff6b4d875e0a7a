#!/usr/bin/env bash
# Start or stop the services strata's integration tests talk to: a private dockerd, a
# local registry on 127.0.0.1:5000, and podman's config files (podman needs no daemon).
#
#   eval "$(.ci/services.sh start)"   # start (stale ones from an earlier run are stopped
#                                     # first) and export the variables the tests read
#   eval "$(.ci/services.sh env)"     # only print/export the variables
#   .ci/services.sh stop              # stop both daemons (by pidfile)
#
# Everything lives under $STRATA_CI_STATE (default /tmp/strata-ci). stdout carries only
# `export` lines, so it can be eval'ed; progress and errors go to stderr. The settings are
# the ones in shared/ENVIRONMENT.md: crun and the default network do not work here.
set -euo pipefail

state=${STRATA_CI_STATE:-/tmp/strata-ci}
registry_addr=127.0.0.1:5000

log() { echo "services.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Prints the export lines the tests (and docker/podman/skopeo run by hand) read.
print_env() {
  cat <<EOF
export DOCKER_HOST=unix://$state/docker/docker.sock
export STRATA_TEST_DOCKER_HOST=unix://$state/docker/docker.sock
export CONTAINERS_CONF=$state/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$state/podman/storage.conf
export STRATA_TEST_REGISTRY=$registry_addr
EOF
}

# Stops the process whose pid is in $1 (if it is alive), waiting up to $2 seconds
# before escalating to SIGKILL. Only ever signals that one pid.
stop_pidfile() {
  local pidfile=$1 grace=$2 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping pid $pid ($pidfile)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop in ${grace}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$pidfile"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_podman_conf() {
  mkdir -p "$state/podman/root" "$state/podman/run"
  cat >"$state/podman/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat >"$state/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$state/podman/root"
runroot = "$state/podman/run"
EOF
}

start_dockerd() {
  local d=$state/docker i
  command -v dockerd >/dev/null || die "dockerd not installed (apt-get install docker.io)"
  stop_pidfile "$d/dockerd.pid" 30
  # dockerd's own pidfile: it refuses to start while that names a live process.
  stop_pidfile "$d/docker.pid" 30
  rm -f "$d/docker.sock"
  mkdir -p "$d/data" "$d/exec"
  log "starting dockerd (log: $d/dockerd.log)"
  setsid dockerd --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
    -H "unix://$d/docker.sock" --storage-driver vfs \
    --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
    </dev/null >"$d/dockerd.log" 2>&1 &
  echo $! >"$d/dockerd.pid"
  for ((i = 0; i < 600; i++)); do
    if [ -S "$d/docker.sock" ] && DOCKER_HOST="unix://$d/docker.sock" docker version >/dev/null 2>&1; then
      log "dockerd ready after $((i / 10)).$((i % 10))s"
      return 0
    fi
    kill -0 "$(cat "$d/dockerd.pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$d/dockerd.log" >&2 || true
  die "dockerd did not come up (socket $d/docker.sock)"
}

start_registry() {
  local r=$state/registry i
  command -v docker-registry >/dev/null || die "docker-registry not installed (apt-get install docker-registry)"
  stop_pidfile "$r/registry.pid" 15
  if port_open 5000; then
    die "something else already listens on $registry_addr (not ours: no live pid in $r/registry.pid)"
  fi
  mkdir -p "$r/data"
  cat >"$r/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $r/data
  delete:
    enabled: true
http:
  addr: $registry_addr
EOF
  log "starting registry on $registry_addr (log: $r/registry.log)"
  setsid docker-registry serve "$r/config.yml" </dev/null >"$r/registry.log" 2>&1 &
  echo $! >"$r/registry.pid"
  for ((i = 0; i < 300; i++)); do
    if port_open 5000; then
      log "registry ready after $((i / 10)).$((i % 10))s"
      return 0
    fi
    kill -0 "$(cat "$r/registry.pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$r/registry.log" >&2 || true
  die "registry did not come up on $registry_addr"
}

case "${1:-}" in
start)
  mkdir -p "$state"
  write_podman_conf
  start_dockerd
  start_registry
  print_env
  ;;
stop)
  stop_pidfile "$state/registry/registry.pid" 15
  stop_pidfile "$state/docker/dockerd.pid" 30
  stop_pidfile "$state/docker/docker.pid" 30
  ;;
env)
  print_env
  ;;
*)
  echo "usage: $0 start|stop|env   (start/env print export lines: eval \"\$($0 start)\")" >&2
  exit 2
  ;;
esac
