#!/usr/bin/env bash
# End-to-end test of the `spotdiff serve` page in headless Chromium.
#
# Needs Debian's chromium (installed here with apt-get when missing and running as
# root) and Node.js 20+ with npm; the npm packages come from package-lock.json (`npm ci`,
# only when they changed). No browser is ever downloaded by npm: the test drives
# /usr/bin/chromium. With CI=true a missing dependency is a failure; elsewhere it is a
# loud skip that says what to install.
# Usage: bash tests/e2e/run.sh   (scripts/test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

missing() {
    if [ "${CI:-}" = "true" ]; then
        echo "e2e: error: $1 is missing (needed in CI)" >&2
        exit 1
    fi
    echo "e2e: SKIPPED, $1 is missing: apt-get install -y chromium nodejs npm" >&2
    exit 0
}

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "e2e: installing $* with apt-get" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    fi
}

command -v chromium >/dev/null || apt_install chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v chromium >/dev/null || missing chromium
command -v node >/dev/null || missing node
command -v npm >/dev/null || missing npm

# npm packages: reinstalled only when the lock file changed.
stamp=node_modules/.spotdiff-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi

# The binary under test (already built by `cargo test --all-targets`: a no-op then).
(cd ../.. && cargo build --quiet --bin spotdiff)
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
node --test --test-reporter=spec page.test.mjs report.test.mjs
