#!/usr/bin/env bash
# Local equivalents of the upstream images docker-compose.yml and the Dockerfile use, built
# from Debian bookworm packages, for a machine that reaches Debian's mirrors and PyPI but
# not Docker Hub (CI). Tags are revizto-offline/*, never an upstream name.
#
#   docker/offline-images.sh [build]   build what is missing, then print the variables
#   docker/offline-images.sh env       only print the variables
#   docker/offline-images.sh remove    remove every image this script builds
#
# The variables (NAME=value lines on stdout; everything else goes to stderr) point compose
# and the Dockerfile at these images: put them in .env, or `set -a; eval "$(...)"; set +a`.
#
#   PYTHON_IMAGE        Dockerfile build arg (compose passes it)   python:3.11-slim-bookworm
#   REDIS_IMAGE         compose service redis                      redis:7.4-alpine
#   PROMETHEUS_IMAGE    compose service prometheus                 prom/prometheus:v2.55.1
#   ALERTMANAGER_IMAGE  compose service alertmanager               prom/alertmanager
#
# Grafana has no Debian package: GRAFANA_IMAGE has no offline equivalent, so leave the
# grafana service out (`docker compose up` the other services by name).
#
# Needs a running Docker engine whose client can build with BuildKit (docker buildx, or
# Docker 20.10's DOCKER_BUILDKIT=1), and mmdebstrap (apt-get install mmdebstrap) run as
# root for the root filesystem. Builds use the host's network (--network host), so apt
# inside them reaches the mirror the host reaches, and every image trusts the host's extra
# CA certificates (/usr/local/share/ca-certificates/*.crt).
#
# Settings: OFFLINE_IMAGE_PREFIX (revizto-offline), DEBIAN_MIRROR
# (http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR, DOCKER (the client to build with).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
prefix="${OFFLINE_IMAGE_PREFIX:-revizto-offline}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
docker_cli="${DOCKER:-docker}"

base_image="$prefix/debian:bookworm"
# The Dockerfile stage (docker/offline/Dockerfile) -> its tag.
declare -A images=(
    [python]="$prefix/python:3.11-bookworm"
    [redis]="$prefix/redis:bookworm"
    [prometheus]="$prefix/prometheus:bookworm"
    [alertmanager]="$prefix/alertmanager:bookworm"
)
stages=(python redis prometheus alertmanager)

say() { printf 'offline-images: %s\n' "$*" >&2; }

print_env() {
    printf 'PYTHON_IMAGE=%s\n' "${images[python]}"
    printf 'REDIS_IMAGE=%s\n' "${images[redis]}"
    printf 'PROMETHEUS_IMAGE=%s\n' "${images[prometheus]}"
    printf 'ALERTMANAGER_IMAGE=%s\n' "${images[alertmanager]}"
}

have_image() { "$docker_cli" image inspect "$1" >/dev/null 2>&1; }

build_base() {
    if have_image "$base_image"; then
        say "$base_image exists"
        return
    fi
    command -v mmdebstrap >/dev/null || {
        say "mmdebstrap is missing: apt-get install -y mmdebstrap"
        exit 1
    }
    say "building $base_image: a minbase bookworm root filesystem (mmdebstrap)"
    local tarball
    tarball="$(mktemp --suffix=.tar)"
    # The same mirrors the images' apt uses later; ca-certificates for apt and pip over TLS.
    if ! mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$tarball" \
        "deb $mirror bookworm main" \
        "deb $mirror bookworm-updates main" \
        "deb $security_mirror bookworm-security main" >&2; then
        rm -f "$tarball"
        say "mmdebstrap failed"
        exit 1
    fi
    "$docker_cli" import --change 'CMD ["bash"]' "$tarball" "$base_image" >/dev/null
    rm -f "$tarball"
}

build_stages() {
    local context stage
    context="$(mktemp -d)"
    # shellcheck disable=SC2064  # expand now: the directory is this function's
    trap "rm -rf '$context'" RETURN
    cp "$here/offline/Dockerfile" "$context/"
    mkdir "$context/ca-certificates"
    # Only the public certificates the host trusts in addition to Debian's own.
    find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$context/ca-certificates/" \; \
        2>/dev/null || true
    for stage in "${stages[@]}"; do
        if have_image "${images[$stage]}"; then
            say "${images[$stage]} exists"
            continue
        fi
        say "building ${images[$stage]}"
        DOCKER_BUILDKIT=1 "$docker_cli" build --quiet --network host \
            --build-arg "BASE=$base_image" --target "$stage" \
            --tag "${images[$stage]}" "$context" >/dev/null
    done
}

remove_all() {
    local image
    for image in "${images[@]}" "$base_image"; do
        if have_image "$image"; then
            "$docker_cli" image rm "$image" >/dev/null
            say "removed $image"
        fi
    done
}

case "${1:-build}" in
    build)
        build_base
        build_stages
        print_env
        ;;
    env) print_env ;;
    remove) remove_all ;;
    *)
        say "usage: $0 [build|env|remove]"
        exit 2
        ;;
esac
