#!/usr/bin/env bash
# Build the container images with no registry and no network inside the build:
#
#   .ci/image.sh operator   the operator image (Dockerfile)
#   .ci/image.sh example    the example app image (examples/app/Dockerfile)
#   .ci/image.sh base       only the base image
#   .ci/image.sh containers-conf   write podman's containers.conf for this machine and print its path
#
# Steps, each cached so that an unchanged tree rebuilds nothing:
#   1. the base: BASE_IMAGE when given; else a Debian base made from Debian's packages by mmdebstrap and
#      imported (its tarball cached, keyed by suite, package list and architecture); else (no mmdebstrap) the
#      Dockerfile's default, the official slim Python image, pulled from the registry the tool is set up with.
#   2. a wheelhouse built on this machine: the project's wheel (`pip wheel`), and every dependency as a binary
#      wheel for the image's Python and platform (`pip download`; cached, keyed by the requirement list).
#      The build only runs `pip install --no-index` from a COPY of it: no network at all inside the build.
#   3. the image, from a build context holding only the wheelhouse (and the app for the example). Its inputs
#      (Dockerfile, sources, requirements, base image id, this script) are hashed into a label; an image that
#      already carries the same hash is reused as it is.
#
# Prints the image's reference as the last line of stdout; progress, timings and the size go to stderr.
#
# Environment: CONTAINER_TOOL (podman when present, else docker), BASE_IMAGE, IMAGE / EXAMPLE_IMAGE (the tags),
# DEBIAN_SUITE (bookworm), DEBIAN_MIRROR (a mirror of your own; default: mmdebstrap's), PYTHON (for pip),
# ASGI_IMAGE_CACHE (default ~/.cache/asgi-operator/images), ASGI_IMAGE_REBUILD=1 (build even when cached).
set -euo pipefail
shopt -s inherit_errexit

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
what=${1:-operator}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO/pyproject.toml" | head -1)
IMAGE=${IMAGE:-localhost/asgi-operator:$VERSION}
EXAMPLE_IMAGE=${EXAMPLE_IMAGE:-localhost/asgi-example-app:$VERSION}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
# the Python of the base image: bookworm's python3 is 3.11, like the Dockerfile's default (python:3.11-slim)
IMAGE_PYTHON=3.11
BASE_PACKAGES=python3,python3-venv,ca-certificates
CACHE=${ASGI_IMAGE_CACHE:-${ASGI_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asgi-operator}/images}
PYTHON=${PYTHON:-python3}
INPUTS_LABEL=dev.asgi-operator.inputs

log() { printf '%s\n' "image: $*" >&2; }
die() { log "$*"; exit 1; }
sha() { sha256sum | cut -c1-16; }

if [[ -z ${CONTAINER_TOOL:-} ]]; then
    if command -v podman >/dev/null 2>&1; then CONTAINER_TOOL=podman; else CONTAINER_TOOL=docker; fi
fi
command -v "$CONTAINER_TOOL" >/dev/null 2>&1 || die "$CONTAINER_TOOL not found: install podman (or set CONTAINER_TOOL)"
tool() { "$CONTAINER_TOOL" "$@"; }

podman_config() {
    # Rootful podman on machines whose sandbox caps rlimits and mixes cgroup v1 and v2: a containers.conf of
    # our own (given in CONTAINERS_CONF; the machine's own configuration is never touched) with the runtime
    # runc when installed (crun 1.8 refuses a hybrid cgroup layout) and default ulimits no higher than this
    # shell's hard limits (podman's defaults exceed them there: "setrlimit ... operation not permitted").
    # Seen on such a sandbox: runc may not set RLIMIT_NPROC above kernel.pid_max (32768), whatever the hard
    # limit says, so nproc is the lower of the two.
    [[ $CONTAINER_TOOL == podman && -z ${CONTAINERS_CONF:-} ]] || return 0
    local conf=$CACHE/podman/containers.conf nofile nproc pid_max
    nofile=$(ulimit -Hn)
    nproc=$(ulimit -Hu)
    pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 4194304)
    [[ $nofile == unlimited ]] && nofile=1048576
    [[ $nproc == unlimited ]] && nproc=1048576
    ((nproc > pid_max)) && nproc=$pid_max
    mkdir -p "$CACHE/podman"
    {
        echo "# written by .ci/image.sh for this machine: CONTAINERS_CONF=$conf"
        echo "[containers]"
        echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
        if command -v runc >/dev/null 2>&1; then
            echo "[engine]"
            echo "runtime = \"runc\""
        fi
    } >"$conf.new"
    mv "$conf.new" "$conf"
    export CONTAINERS_CONF=$conf
}

image_label() { tool image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
image_id() { tool image inspect --format '{{ .Id }}' "$1"; }

print_size() {
    local bytes
    bytes=$(tool image inspect --format '{{ .Size }}' "$1")
    log "$1: $((bytes / 1000000)) MB ($bytes bytes, uncompressed)"
}

# ------------------------------------------------------------------------------------------------ the base
base_image() {
    # prints the base image to build FROM ("" = the Dockerfile's default)
    if [[ -n ${BASE_IMAGE:-} ]]; then
        echo "$BASE_IMAGE"
        return
    fi
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        log "no mmdebstrap: building FROM the Dockerfile's default base (pulled from your registry)"
        echo ""
        return
    fi
    local arch key ref tarball started
    arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
    key=$(printf '%s\n' "$DEBIAN_SUITE" "$BASE_PACKAGES" "$arch" "${DEBIAN_MIRROR:-}" "minbase-v1" | sha)
    ref=localhost/asgi-operator-base:$DEBIAN_SUITE-$key
    if tool image inspect "$ref" >/dev/null 2>&1; then
        echo "$ref"
        return
    fi
    tarball=$CACHE/base/$DEBIAN_SUITE-$key.tar
    if [[ ! -f $tarball ]]; then
        started=$SECONDS
        log "creating the base from Debian packages ($DEBIAN_SUITE: $BASE_PACKAGES) with mmdebstrap"
        mkdir -p "$CACHE/base"
        # no documentation, manuals or translations in the image (copyright files stay); the hook's $1 is
        # mmdebstrap's, for the root of the new tree
        # shellcheck disable=SC2016
        mmdebstrap --variant=minbase --format=tar --include="$BASE_PACKAGES" \
            --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
            --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-include=/usr/share/doc/*/copyright' \
            --customize-hook='rm -f "$1"/etc/machine-id "$1"/var/cache/ldconfig/aux-cache' \
            "$DEBIAN_SUITE" "$tarball.part" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} </dev/null >"$CACHE/base/mmdebstrap.log" 2>&1 ||
            { tail -20 "$CACHE/base/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $CACHE/base/mmdebstrap.log)"; }
        mv "$tarball.part" "$tarball"
        log "base tarball in $((SECONDS - started)) s: $tarball"
    fi
    tool import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --message "Debian $DEBIAN_SUITE minbase with $BASE_PACKAGES (mmdebstrap)" \
        "$tarball" "$ref" >/dev/null
    print_size "$ref"
    echo "$ref"
}

# ------------------------------------------------------------------------------------------------ wheelhouse
platform_args() {
    # binary wheels the image's glibc (bookworm: 2.36) and architecture can load
    local arch glibc
    arch=$(uname -m)
    printf -- '--platform=manylinux2014_%s\n' "$arch"
    for glibc in $(seq 17 36); do printf -- '--platform=manylinux_2_%s_%s\n' "$glibc" "$arch"; done
}

deps_wheelhouse() {
    # $1: a file of requirements; prints the directory of their wheels (and all they depend on)
    local requirements=$1 key dir started
    key=$(
        {
            grep -v '^\s*#' "$requirements"
            echo "$IMAGE_PYTHON $(uname -m)"
        } | sha
    )
    dir=$CACHE/wheels/$key
    if [[ ! -f $dir/.complete ]]; then
        started=$SECONDS
        rm -rf "$dir"
        mkdir -p "$dir"
        mapfile -t platforms < <(platform_args)
        "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
            "${platforms[@]}" --python-version="$IMAGE_PYTHON" --implementation=cp --abi="cp${IMAGE_PYTHON/./}" \
            --dest="$dir" -r "$requirements" >&2
        touch "$dir/.complete"
        log "wheelhouse ($(find "$dir" -name '*.whl' | wc -l) wheels) in $((SECONDS - started)) s: $dir"
    fi
    echo "$dir"
}

link_wheels() {
    # hard links (copies across file systems) of the wheels in $1 into $2
    mkdir -p "$2"
    cp -l "$1"/*.whl "$2"/ 2>/dev/null || cp "$1"/*.whl "$2"/
}

operator_requirements() {
    "$PYTHON" - "$REPO/pyproject.toml" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
EOF
}

hash_tree() {
    # the contents of every file under the given paths (relative to the current directory), in a stable order
    find "$@" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum | sha
}

# ------------------------------------------------------------------------------------------------ building
build() {
    # $1 tag, $2 Dockerfile, $3 context, $4 inputs hash, $5 base image
    local started=$SECONDS previous
    previous=$(tool image inspect --format '{{ .Id }}' "$1" 2>/dev/null || true)
    # --network=none: the RUN steps get no network at all (everything they install is in the context)
    local args=(build --network=none --file "$2" --tag "$1" --label "$INPUTS_LABEL=$4")
    [[ -n $5 ]] && args+=(--build-arg "BASE_IMAGE=$5")
    [[ $CONTAINER_TOOL == podman ]] && args+=(--layers)
    log "building $1 with $CONTAINER_TOOL"
    tool "${args[@]}" "$3" >&2
    log "built $1 in $((SECONDS - started)) s"
    # the image this one replaces, now untagged: removed, so that rebuilds do not pile up (its layers that are
    # still used, the base and the dependencies, stay)
    if [[ -n $previous && $previous != "$(image_id "$1")" ]]; then
        tool image rm "$previous" >/dev/null 2>&1 || true
    fi
}

up_to_date() {
    # $1 tag, $2 inputs hash
    [[ ${ASGI_IMAGE_REBUILD:-} != 1 && $(image_label "$1" "$INPUTS_LABEL") == "$2" ]]
}

operator_image() {
    local base base_id stage inputs deps
    base=$(base_image)
    base_id=$([[ -n $base ]] && image_id "$base" || echo default)
    stage=$CACHE/context/operator
    rm -rf "$stage"
    mkdir -p "$stage/src" "$stage/context/wheels/app" "$stage/context/wheels/deps"
    # the project's sources as the wheel is built from them (a copy: nothing is written into the checkout)
    (cd "$REPO" && tar -cf - --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' \
        pyproject.toml README.md operator) | tar -xf - -C "$stage/src"
    operator_requirements >"$stage/requirements.txt"
    inputs=$(
        {
            (cd "$stage/src" && hash_tree .)
            sha256sum "$REPO/Dockerfile" "$REPO/.ci/image-install.sh" "${BASH_SOURCE[0]}" "$stage/requirements.txt" |
                cut -d' ' -f1
            echo "$base_id"
        } | sha
    )
    if up_to_date "$IMAGE" "$inputs"; then
        log "$IMAGE is up to date (inputs $inputs)"
        print_size "$IMAGE"
        echo "$IMAGE"
        return
    fi
    deps=$(deps_wheelhouse "$stage/requirements.txt")
    link_wheels "$deps" "$stage/context/wheels/deps"
    local started=$SECONDS
    "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps \
        --wheel-dir="$stage/context/wheels/app" "$stage/src" >&2
    log "the project's wheel in $((SECONDS - started)) s"
    cp "$REPO/.ci/image-install.sh" "$stage/context/image-install.sh"
    build "$IMAGE" "$REPO/Dockerfile" "$stage/context" "$inputs" "$base"
    print_size "$IMAGE"
    echo "$IMAGE"
}

example_image() {
    local base base_id stage inputs deps app=$REPO/examples/app
    base=$(base_image)
    base_id=$([[ -n $base ]] && image_id "$base" || echo default)
    stage=$CACHE/context/example
    rm -rf "$stage"
    mkdir -p "$stage/context/wheels" "$stage/context/app"
    cp "$app/main.py" "$app/requirements.txt" "$stage/context/app/"
    inputs=$(
        {
            (cd "$stage/context/app" && hash_tree .)
            sha256sum "$app/Dockerfile" "$REPO/.ci/image-install.sh" "${BASH_SOURCE[0]}" | cut -d' ' -f1
            echo "$base_id"
        } | sha
    )
    if up_to_date "$EXAMPLE_IMAGE" "$inputs"; then
        log "$EXAMPLE_IMAGE is up to date (inputs $inputs)"
        print_size "$EXAMPLE_IMAGE"
        echo "$EXAMPLE_IMAGE"
        return
    fi
    deps=$(deps_wheelhouse "$app/requirements.txt")
    link_wheels "$deps" "$stage/context/wheels"
    cp "$REPO/.ci/image-install.sh" "$stage/context/image-install.sh"
    build "$EXAMPLE_IMAGE" "$app/Dockerfile" "$stage/context" "$inputs" "$base"
    print_size "$EXAMPLE_IMAGE"
    echo "$EXAMPLE_IMAGE"
}

podman_config
case $what in
    # the containers.conf podman is run with (empty for docker, or when CONTAINERS_CONF is already set)
    containers-conf) echo "${CONTAINERS_CONF:-}" ;;
    base) base_image ;;
    operator) operator_image ;;
    example) example_image ;;
    *) die "usage: $0 operator|example|base|containers-conf" ;;
esac
