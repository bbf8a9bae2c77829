#!/usr/bin/env bash
# Fetch, start and stop a real Elasticsearch for tests and CI, without Docker or elastic.co:
# Elasticsearch's own integ-test-zip from Maven Central, run by a dedicated non-root user
# (ES refuses root) with a Java 21+ JDK from /usr/lib/jvm.
#
#   scripts/elasticsearch.sh fetch          # download + unzip once into the cache (idempotent)
#   scripts/elasticsearch.sh start [PORT]   # start on 127.0.0.1:PORT (default 39200), wait until ready
#   scripts/elasticsearch.sh stop  [PORT]
#   scripts/elasticsearch.sh status [PORT]
#   scripts/elasticsearch.sh clean [PORT]   # remove the stopped node's data and logs
#   scripts/elasticsearch.sh home           # print the unpacked ES directory
#
# Environment:
#   ONIONWATCH_ES_CACHE     cache dir (default <repo>/.cache/elasticsearch, gitignored)
#   ONIONWATCH_ES_VERSIONS  candidate versions, newest first (default below); the first that resolves wins
#   ONIONWATCH_ES_USER      system user that runs ES (default onionwatch-es)
#   ONIONWATCH_ES_JAVA_HOME JDK to use (default: newest Java 21+ found in /usr/lib/jvm)
#   ONIONWATCH_ES_TIMEOUT   seconds to wait for readiness (default 120)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${ONIONWATCH_ES_CACHE:-$REPO_DIR/.cache/elasticsearch}"
# Maven Central's maven-metadata.xml for this artifact stops at 8.x, so the 9.x versions are listed
# here (checked: 9.3.2, 9.2.0, 9.1.0, 9.0.0 resolve; 9.3.0/9.3.1 do not).
VERSIONS="${ONIONWATCH_ES_VERSIONS:-9.3.2 9.2.0 9.1.0 9.0.0}"
ES_USER="${ONIONWATCH_ES_USER:-onionwatch-es}"
TIMEOUT="${ONIONWATCH_ES_TIMEOUT:-120}"
# Maven 3.8.7 defaults to an old dependency plugin; pin a 3.x one.
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
COORD="org.elasticsearch.distribution.integ-test-zip:elasticsearch"

log() { echo "elasticsearch.sh: $*" >&2; }
die() { log "$*"; exit 1; }

es_home() {
  local d
  for d in "$CACHE_DIR"/elasticsearch-9.*/; do
    [ -x "$d/bin/elasticsearch" ] && { echo "${d%/}"; return 0; }
  done
  return 1
}

java_home() {
  if [ -n "${ONIONWATCH_ES_JAVA_HOME:-}" ]; then echo "$ONIONWATCH_ES_JAVA_HOME"; return 0; fi
  local best="" best_v=0 d v
  for d in /usr/lib/jvm/*/; do
    d="${d%/}"
    [ -x "$d/bin/java" ] || continue
    [ -L "$d" ] && continue
    v="$("$d/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    v="${v%%.*}"
    if [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 21 ] && [ "$v" -gt "$best_v" ]; then best="$d"; best_v="$v"; fi
  done
  [ -n "$best" ] || die "no Java 21+ JDK in /usr/lib/jvm (Elasticsearch 9 needs one); set ONIONWATCH_ES_JAVA_HOME"
  echo "$best"
}

cmd_fetch() {
  if home="$(es_home)"; then log "already unpacked: $home"; echo "$home"; return 0; fi
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$CACHE_DIR/dl"
  local v zip=""
  for v in $VERSIONS; do
    if [ -f "$CACHE_DIR/dl/elasticsearch-$v.zip" ]; then zip="$CACHE_DIR/dl/elasticsearch-$v.zip"; break; fi
    log "resolving $COORD:$v:zip from Maven Central"
    if mvn -B -q -Dstyle.color=never "$DEP_PLUGIN:copy" -Dartifact="$COORD:$v:zip" -DoutputDirectory="$CACHE_DIR/dl" \
         -Dmdep.overWriteReleases=false >&2; then
      zip="$CACHE_DIR/dl/elasticsearch-$v.zip"; break
    fi
    log "version $v did not resolve"
  done
  [ -n "$zip" ] && [ -f "$zip" ] || die "no Elasticsearch 9.x integ-test-zip resolved (tried: $VERSIONS)"
  local tmp="$CACHE_DIR/.unzip.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$tmp" && unzip -q "$zip")
  mv "$tmp"/elasticsearch-* "$CACHE_DIR/"
  rm -rf "$tmp"
  home="$(es_home)" || die "unzipped $zip but found no bin/elasticsearch"
  log "unpacked $home (modules: $(ls "$home/modules" | tr '\n' ' '))"
  echo "$home"
}

ensure_user() {
  if ! id -u "$ES_USER" >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "user $ES_USER is missing and only root can create it"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
    log "created system user $ES_USER"
  fi
}

run_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$ES_USER" -- "$@"; else "$@"; fi
}

healthy() {
  curl -fsS -m 2 "http://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1
}

cmd_start() {
  local port="${1:-39200}"
  local home; home="$(es_home)" || die "not fetched; run: $0 fetch"
  local run="$CACHE_DIR/run-$port"
  local pidfile="$run/es.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && healthy "$port"; then
    log "already running on port $port (pid $(cat "$pidfile"))"; echo "http://127.0.0.1:$port"; return 0
  fi
  local jh; jh="$(java_home)"
  if [ "$(id -u)" -eq 0 ]; then ensure_user; fi
  # The ES user must be able to read the distribution and write its own config/data/logs.
  # A per-port copy of config/ keeps concurrent nodes (and a root-owned cache) apart. Data is kept
  # across stop/start (a restart must find its indices); `clean PORT` wipes it.
  rm -rf "$run/config" "$run/tmp"; mkdir -p "$run/data" "$run/logs" "$run/tmp"
  cp -r "$home/config" "$run/config"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R "$ES_USER" "$run"
    chmod -R o+rX "$home"
    # The ES user must traverse every parent of the cache. Open up only directories inside the
    # cache or the repository; anything above that is the operator's call.
    local p="$CACHE_DIR"
    while [ "$p" != "/" ]; do
      if [ "$(( $(stat -c '%a' "$p") % 2 ))" -eq 0 ]; then
        case "$p/" in
          "$CACHE_DIR"/*|"$REPO_DIR"/*) chmod o+x "$p" ;;
          *) die "$ES_USER cannot enter $p; set ONIONWATCH_ES_CACHE to a directory it can reach" ;;
        esac
      fi
      p="$(dirname "$p")"
    done
  fi
  local flags=(-E discovery.type=single-node -E network.host=127.0.0.1 -E "http.port=$port"
    -E transport.port=0 -E "cluster.name=onionwatch-test-$port"
    -E cluster.routing.allocation.disk.threshold_enabled=false
    -E "path.data=$run/data" -E "path.logs=$run/logs" -E action.destructive_requires_name=false)
  # Security lives in x-pack-security; pass its flag only when the module is there (unknown
  # settings are fatal).
  if [ -d "$home/modules/x-pack-security" ]; then flags+=(-E xpack.security.enabled=false); fi
  if [ -d "$home/modules/x-pack-ml" ]; then flags+=(-E xpack.ml.enabled=false); fi
  log "starting $(basename "$home") on 127.0.0.1:$port with $jh"
  local t0=$SECONDS
  run_as env ES_JAVA_HOME="$jh" ES_PATH_CONF="$run/config" ES_TMPDIR="$run/tmp" \
    ES_JAVA_OPTS="${ES_JAVA_OPTS:--Xms512m -Xmx512m}" \
    "$home/bin/elasticsearch" -d -p "$pidfile" "${flags[@]}" >"$run/logs/stdout.log" 2>&1 \
    || { tail -n 40 "$run/logs/stdout.log" >&2; die "elasticsearch failed to start"; }
  while ! healthy "$port"; do
    if [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
      tail -n 40 "$run/logs/"*.log >&2 || true
      cmd_stop "$port" || true
      die "not ready after ${TIMEOUT}s"
    fi
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      tail -n 40 "$run/logs/"*.log >&2 || true
      die "elasticsearch exited during startup"
    fi
    sleep 0.5
  done
  log "ready on port $port after $((SECONDS - t0))s (pid $(cat "$pidfile"))"
  echo "http://127.0.0.1:$port"
}

cmd_stop() {
  local port="${1:-39200}"
  local pidfile="$CACHE_DIR/run-$port/es.pid"
  [ -f "$pidfile" ] || { log "not running on port $port (no pid file)"; return 0; }
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local i
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid ignored SIGTERM for 30s; killing"; kill -KILL "$pid"; fi
  fi
  rm -f "$pidfile"
  log "stopped (port $port)"
}

cmd_clean() {
  local port="${1:-39200}"
  local pidfile="$CACHE_DIR/run-$port/es.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then die "still running on port $port; stop it first"; fi
  rm -rf "$CACHE_DIR/run-$port"
  log "removed data and logs of port $port"
}

cmd_status() {
  local port="${1:-39200}"
  if healthy "$port"; then curl -fsS "http://127.0.0.1:$port/_cluster/health?pretty"; else die "not running on $port"; fi
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  clean) shift; cmd_clean "$@" ;;
  home) es_home || die "not fetched" ;;
  *) echo "usage: $0 fetch|start [PORT]|stop [PORT]|status [PORT]|clean [PORT]|home" >&2; exit 2 ;;
esac
