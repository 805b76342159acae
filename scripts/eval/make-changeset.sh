#!/usr/bin/env bash
# Generate the change-model evaluation sets (issue 12) into OUT (default out/changeset):
#
#   bash scripts/eval/make-changeset.sh [OUT]
#
#   OUT/ui/manifest.json     UI screenshots in headless Chromium, DOM edits, re-renders
#                            (scripts/eval/make-changeset-ui.py; pages in scripts/eval/ui/)
#   OUT/faint/manifest.json  faint coherent changes on photos, change-free photo pairs
#                            (scripts/eval/make-changeset-faint.py)
#   OUT/spot/manifest.json   spot-the-difference photos, 5-15 edits, JPEG on both sides
#                            (scripts/eval/make-changeset-spot.py)
# Everything is made by these scripts (fixed seeds, no randomness in the UI set), about
# 50 MB, git-ignored. Needs: Debian's chromium (installed with apt-get when missing and
# running as root; fonts-dejavu-core and fonts-liberation likewise), Node.js 20+ with npm
# (the packages of scripts/eval/ui/package-lock.json: playwright-core, @odiff/linux-x64
# (odiff-bin's native binary), pixelmatch, pngjs; `npm ci`, no browser download), and .deps/eval-venv
# (scripts/setup/setup-eval.sh). About 5 minutes on 2 busy cores, most of it Chromium.
# CHANGESET_ONLY="ui faint" makes only some of the sets.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-out/changeset}"
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
cd "$ROOT"
PY=.deps/eval-venv/bin/python
ONLY="${CHANGESET_ONLY:-ui faint spot}"
step() { echo "make-changeset: $*" >&2; }
die() { echo "make-changeset: error: $*" >&2; exit 2; }

APT_UPDATED=0
apt_install() {
    [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || die "$* missing: apt-get install -y $*"
    if [[ "$APT_UPDATED" == 0 ]]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
    step "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

bash scripts/setup/setup-eval.sh
if [[ " $ONLY " == *" ui "* ]]; then
    export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
    [[ -x "$CHROMIUM" ]] || apt_install chromium
    fc-list : family | grep -q "DejaVu Sans" || apt_install fonts-dejavu-core
    fc-list : family | grep -q "Liberation Sans" || apt_install fonts-liberation
    command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
fi
# npm packages (the renderer and the peers): reinstalled only when the lock file changed
stamp=scripts/eval/ui/node_modules/.spotdiff-lock
if ! cmp -s scripts/eval/ui/package-lock.json "$stamp" 2>/dev/null; then
    step "npm ci in scripts/eval/ui"
    (cd scripts/eval/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp scripts/eval/ui/package-lock.json "$stamp"
fi

mkdir -p "$OUT"
for set in $ONLY; do
    step "$set -> $OUT/$set"
    rm -rf "${OUT:?}/$set"
    start=$SECONDS
    "$PY" "scripts/eval/make-changeset-$set.py" "$OUT/$set"
    step "$set done in $((SECONDS - start)) s"
done
du -sh "$OUT" >&2
