#!/usr/bin/env bash
# Benchmark spotdiff against its peers and write BENCHMARKS.md.
#
#   bash scripts/bench/bench.sh                 full run: 512x512, 1920x1080, 3840x2160
#   BENCH_QUICK=1 bash scripts/bench/bench.sh   smoke run: 512x512 and 1920x1080, fewer runs
#
# Peers go into .deps/bench/ (git-ignored), generated pairs and raw results into
# bench-data/ (git-ignored). Peers: odiff (native binary from npm @odiff/linux-x64),
# pixelmatch (npm, via node), dssim (crates.io, AGPL: only run, never linked or copied),
# the classic SSIM recipe (scripts/eval/classic-recipe.py; scikit-image + OpenCV).
# Tools: hyperfine and GNU time (Debian packages; installed with apt-get when missing).
#
# Environment:
#   BENCH_QUICK=1           smoke run (see above)
#   BENCH_SKIP_SPOTDIFF=1   for working on this script without the binary: no build, no
#                           spotdiff rows, report to bench-data/BENCHMARKS.md
#   BENCH_SPOTDIFF=PATH     time this spotdiff binary instead of building target/release/spotdiff
#   BENCH_REPORT=PATH       where to write the report (default: BENCHMARKS.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

QUICK="${BENCH_QUICK:-0}"
SKIP_SPOTDIFF="${BENCH_SKIP_SPOTDIFF:-0}"
DEPS=.deps/bench
DATA=bench-data
RESULTS="$DATA/results"
OUTDIR="$DATA/out"
VENV="$DEPS/venv"
PY="$VENV/bin/python"
NODE_DIR="$DEPS/node"
ODIFF="$NODE_DIR/node_modules/@odiff/linux-x64/odiff"
DSSIM="$DEPS/dssim/bin/dssim"
SPOTDIFF="${BENCH_SPOTDIFF:-target/release/spotdiff}"
if [[ "$SKIP_SPOTDIFF" == 1 ]]; then
  REPORT="${BENCH_REPORT:-$DATA/BENCHMARKS.md}"
else
  REPORT="${BENCH_REPORT:-BENCHMARKS.md}"
fi

if [[ "$QUICK" == 1 ]]; then
  SIZES=(512 1080p)
else
  SIZES=(512 1080p 4k)
fi

step() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------- tools and peers
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  if [[ "$APT_UPDATED" == 0 ]]; then
    info "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
  fi
  info "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_tools() {
  step "checking tools (hyperfine, GNU time, node, python3, cargo)"
  local missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  [[ -x /usr/bin/time ]] || missing+=(time)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
  command -v node >/dev/null || apt_install nodejs npm
  command -v python3 >/dev/null || die "python3 is required"
  command -v cargo >/dev/null || die "cargo is required"
  info "hyperfine $(hyperfine --version | awk '{print $2}'), node $(node --version)"
}

ensure_venv() {
  if [[ -x "$PY" ]] && "$PY" -c 'import skimage, cv2' 2>/dev/null; then
    info "python venv ok ($VENV)"
    return
  fi
  info "creating $VENV with scikit-image and opencv-python-headless"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q scikit-image opencv-python-headless >&2
}

ensure_node_peers() {
  if [[ -x "$ODIFF" && -d "$NODE_DIR/node_modules/pixelmatch" && -d "$NODE_DIR/node_modules/pngjs" ]]; then
    info "npm peers ok ($NODE_DIR)"
    return
  fi
  info "installing npm odiff-bin, pixelmatch, pngjs into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  [[ -f "$NODE_DIR/package.json" ]] || printf '{ "name": "spotdiff-bench-peers", "private": true }\n' >"$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --silent odiff-bin pixelmatch pngjs >&2)
  [[ -x "$ODIFF" ]] || die "odiff native binary not found at $ODIFF (did @odiff/linux-x64 install?)"
}

ensure_dssim() {
  if [[ -x "$DSSIM" ]]; then
    info "dssim ok ($DSSIM)"
    return
  fi
  info "cargo install dssim (several minutes; -j 1)"
  cargo install dssim --locked --root "$DEPS/dssim" -j 1 >&2
}

ensure_peers() {
  step "checking peers in $DEPS"
  mkdir -p "$DEPS"
  ensure_venv
  ensure_node_peers
  ensure_dssim
}

build_spotdiff() {
  if [[ "$SKIP_SPOTDIFF" == 1 ]]; then
    step "BENCH_SKIP_SPOTDIFF=1: not building spotdiff, its rows are skipped"
    return
  fi
  if [[ -n "${BENCH_SPOTDIFF:-}" ]]; then
    step "using BENCH_SPOTDIFF=$SPOTDIFF (not building)"
    [[ -x "$SPOTDIFF" ]] || die "$SPOTDIFF is not an executable"
  else
    step "building spotdiff (cargo build --release)"
    cargo build --release >&2
  fi
  local help
  help="$("$SPOTDIFF" compare --help 2>&1)" || die "$SPOTDIFF compare --help failed"
  grep -q -- '--method' <<<"$help" || die "$SPOTDIFF compare --help does not list --method"
}

make_data() {
  step "benchmark pairs in $DATA"
  local need=()
  local s
  for s in "${SIZES[@]}"; do
    [[ -f "$DATA/$s/a.png" && -f "$DATA/$s/b.png" && -f "$DATA/$s/a_copy.png" ]] || need+=("$s")
  done
  if [[ -f "$DATA/manifest.json" && "$DATA/manifest.json" -nt scripts/bench/make-pairs.py && ${#need[@]} == 0 ]]; then
    info "pairs up to date"
    return
  fi
  local sizes_csv
  sizes_csv="$(IFS=,; echo "${SIZES[*]}")"
  "$PY" scripts/bench/make-pairs.py --out "$DATA" --sizes "$sizes_csv" >&2
}

# ---------------------------------------------------------------- measurement helpers
# run_check SIZE NAME "EXPECTED_CODES" CMD...  -- one plain run, to see the tool works;
# its exit code and first output lines go to checks.tsv
run_check() {
  local size="$1" name="$2" expected="$3"
  shift 3
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  local first
  first="$(printf '%s\n' "$out" | awk '/^[[:space:]]*$/ || /WARN/ {next} n < 3 {gsub(/[[:space:]]+/, " "); sub(/^ /, ""); printf "%s%s", (n ? " ; " : ""), $0; n++}' | cut -c1-200)"
  printf '%s\t%s\t%s\t%s\n' "$size" "$name" "$rc" "$first" >>"$RESULTS/checks.tsv"
  if [[ " $expected " != *" $rc "* ]]; then
    printf '%s\n' "$out" | tail -n 20 >&2
    die "$name on $size exited $rc (expected one of: $expected): $*"
  fi
  info "$(printf '%-22s exit %s  %s' "$name" "$rc" "$first")"
}

# hf JSON_NAME WARMUP RUNS_FLAG RUNS [NAME CMD]...  -- hyperfine, failures ignored
hf() {
  local json="$1" warmup="$2" runs_flag="$3" runs="$4"
  shift 4
  local args=(-N -i --warmup "$warmup" "$runs_flag" "$runs" --export-json "$RESULTS/$json.json")
  while (($#)); do
    args+=(-n "$1" "$2")
    shift 2
  done
  hyperfine "${args[@]}" >&2
}

# rss NAME SIZE CMD...  -- peak RSS (KiB) of 3 runs with GNU time, all recorded
rss() {
  local name="$1" size="$2"
  shift 2
  local kb vals=()
  for _ in 1 2 3; do
    /usr/bin/time -f %M -o "$RESULTS/rss.tmp" "$@" >/dev/null 2>&1 || true
    kb="$(tail -n 1 "$RESULTS/rss.tmp")"
    [[ "$kb" =~ ^[0-9]+$ ]] || die "could not read peak RSS for $name"
    vals+=("$kb")
  done
  rm -f "$RESULTS/rss.tmp"
  printf '%s\t%s\t%s\n' "$name" "$size" "${vals[*]}" >>"$RESULTS/rss.tsv"
  info "$(printf '%-22s %-6s peak RSS KiB: %s' "$name" "$size" "${vals[*]}")"
}

record_versions() {
  step "recording versions and machine"
  local v="$RESULTS/versions.tsv"
  : >"$v"
  ver() { printf '%s\t%s\n' "$1" "$2" >>"$v"; }
  if [[ "$SKIP_SPOTDIFF" != 1 ]]; then
    ver spotdiff "$("$SPOTDIFF" --version 2>/dev/null | head -n 1 || echo unknown) (git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -z "$(git status --porcelain -- src Cargo.toml 2>/dev/null)" ]] || echo ', uncommitted changes'))"
  fi
  ver rustc "$(rustc --version)"
  ver odiff "$("$ODIFF" --version 2>&1 | head -n 1) (npm odiff-bin $(node -p "require('./$NODE_DIR/node_modules/odiff-bin/package.json').version"), native @odiff/linux-x64 $(node -p "require('./$NODE_DIR/node_modules/@odiff/linux-x64/package.json').version"))"
  ver pixelmatch "npm pixelmatch $(node -p "require('./$NODE_DIR/node_modules/pixelmatch/package.json').version"), pngjs $(node -p "require('./$NODE_DIR/node_modules/pngjs/package.json').version"), node $(node --version)"
  ver dssim "$("$DSSIM" -h 2>&1 | grep -o 'Version [0-9.]*' | head -n 1 | sed 's/Version /dssim /') (crates.io, cargo install)"
  ver classic "$("$PY" -c 'import sys, skimage, cv2, numpy; print(f"python {sys.version.split()[0]}, scikit-image {skimage.__version__}, opencv-python-headless {cv2.__version__}, numpy {numpy.__version__}")')"
  ver hyperfine "$(hyperfine --version)"
  ver gnu_time "$(dpkg-query -W -f='GNU time ${Version}' time 2>/dev/null || echo 'GNU time')"

  local os_name
  os_name="$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null || true)"
  {
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'memory\t%s\n' "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    printf 'os\t%s, kernel %s\n' "${os_name:-$(uname -s)}" "$(uname -r)"
    printf 'quick\t%s\n' "$QUICK"
    printf 'skip_spotdiff\t%s\n' "$SKIP_SPOTDIFF"
  } >"$RESULTS/machine.tsv"
}

# ---------------------------------------------------------------- main
ensure_tools
ensure_peers
build_spotdiff
make_data

rm -rf "$RESULTS" "$OUTDIR"
mkdir -p "$RESULTS" "$OUTDIR"
record_versions

export BENCH_NODE_MODULES="$ROOT/$NODE_DIR/node_modules"
NODE="$(command -v node)"
PM=scripts/bench/pixelmatch.mjs
CLASSIC=scripts/eval/classic-recipe.py
have_spotdiff() { [[ "$SKIP_SPOTDIFF" != 1 ]]; }

for s in "${SIZES[@]}"; do
  A="$DATA/$s/a.png"
  B="$DATA/$s/b.png"
  C="$DATA/$s/a_copy.png"
  mkdir -p "$OUTDIR/$s"
  if [[ "$QUICK" == 1 ]]; then
    warm=1 runs=3 classic_runs=2
  elif [[ "$s" == 4k ]]; then
    warm=1 runs=5 classic_runs=3
  else
    warm=1 runs=10 classic_runs=5
  fi

  step "[$s] sanity run of every command"
  if have_spotdiff; then
    run_check "$s" "spotdiff pixel+mask" "0 1" "$SPOTDIFF" compare "$A" "$B" --method pixel --out "$OUTDIR/$s/spotdiff-pixel" --write mask
    run_check "$s" "spotdiff ssim" "0 1" "$SPOTDIFF" compare "$A" "$B" --method ssim
    run_check "$s" "spotdiff default" "0 1" "$SPOTDIFF" compare "$A" "$B"
    run_check "$s" "spotdiff default (A=A)" "0" "$SPOTDIFF" compare "$A" "$C"
  fi
  run_check "$s" "odiff" "0 22" "$ODIFF" "$A" "$B" "$OUTDIR/$s/odiff.png"
  run_check "$s" "odiff (A=A)" "0" "$ODIFF" "$A" "$C" "$OUTDIR/$s/odiff-same.png"
  run_check "$s" "pixelmatch" "0 1" "$NODE" "$PM" "$A" "$B" "$OUTDIR/$s/pixelmatch.png"
  run_check "$s" "dssim" "0" "$DSSIM" "$A" "$B"
  run_check "$s" "classic recipe" "0" "$PY" "$CLASSIC" "$A" "$B"

  step "[$s] pixel: spotdiff --method pixel (mask) vs odiff vs pixelmatch"
  cmds=()
  if have_spotdiff; then
    cmds+=("spotdiff pixel+mask" "$SPOTDIFF compare $A $B --method pixel --out $OUTDIR/$s/spotdiff-pixel --write mask")
  fi
  cmds+=("odiff" "$ODIFF $A $B $OUTDIR/$s/odiff.png")
  cmds+=("pixelmatch" "$NODE $PM $A $B $OUTDIR/$s/pixelmatch.png")
  hf "pixel-$s" "$warm" --min-runs "$runs" "${cmds[@]}"

  step "[$s] ssim: spotdiff --method ssim vs dssim"
  cmds=()
  if have_spotdiff; then
    cmds+=("spotdiff ssim" "$SPOTDIFF compare $A $B --method ssim")
  fi
  cmds+=("dssim" "$DSSIM $A $B")
  hf "ssim-$s" "$warm" --min-runs "$runs" "${cmds[@]}"

  step "[$s] ssim: classic recipe ($classic_runs runs)"
  hf "classic-$s" 1 --runs "$classic_runs" "classic recipe" "$PY $CLASSIC $A $B"

  step "[$s] default method and equal inputs"
  cmds=()
  if have_spotdiff; then
    cmds+=("spotdiff default" "$SPOTDIFF compare $A $B")
    cmds+=("spotdiff default (A=A)" "$SPOTDIFF compare $A $C")
    cmds+=("spotdiff pixel (A=A)" "$SPOTDIFF compare $A $C --method pixel")
  fi
  cmds+=("odiff (A=A)" "$ODIFF $A $C $OUTDIR/$s/odiff-same.png")
  hf "default-$s" "$warm" --min-runs "$runs" "${cmds[@]}"
done

# The targets again, round-robin (spotdiff, peer, spotdiff, peer, ...), so each
# round's ratio compares runs made under the same load (other builds on the machine).
if have_spotdiff; then
  rounds=15
  [[ "$QUICK" == 1 ]] && rounds=3
  big=4k
  [[ "$QUICK" == 1 ]] && big=1080p
  step "[$big] interleaved: spotdiff pixel+mask vs odiff ($rounds rounds)"
  "$PY" scripts/bench/interleave.py --rounds "$rounds" --out "$RESULTS/interleaved-pixel-$big.json" \
    "spotdiff pixel+mask" "$SPOTDIFF compare $DATA/$big/a.png $DATA/$big/b.png --method pixel --out $OUTDIR/$big/spotdiff-pixel --write mask" \
    "odiff" "$ODIFF $DATA/$big/a.png $DATA/$big/b.png $OUTDIR/$big/odiff.png"
  step "[1080p] interleaved: spotdiff ssim vs dssim vs classic recipe ($rounds rounds)"
  "$PY" scripts/bench/interleave.py --rounds "$rounds" --out "$RESULTS/interleaved-ssim-1080p.json" \
    "spotdiff ssim" "$SPOTDIFF compare $DATA/1080p/a.png $DATA/1080p/b.png --method ssim" \
    "dssim" "$DSSIM $DATA/1080p/a.png $DATA/1080p/b.png" \
    "classic recipe" "$PY $CLASSIC $DATA/1080p/a.png $DATA/1080p/b.png"
fi

step "peak memory (GNU time, max RSS of 3 runs each)"
big=4k
[[ "$QUICK" == 1 ]] && big=1080p
if have_spotdiff; then
  rss "spotdiff pixel+mask" "$big" "$SPOTDIFF" compare "$DATA/$big/a.png" "$DATA/$big/b.png" --method pixel --out "$OUTDIR/$big/spotdiff-pixel" --write mask
fi
rss "odiff" "$big" "$ODIFF" "$DATA/$big/a.png" "$DATA/$big/b.png" "$OUTDIR/$big/odiff.png"
if have_spotdiff; then
  rss "spotdiff ssim" 1080p "$SPOTDIFF" compare "$DATA/1080p/a.png" "$DATA/1080p/b.png" --method ssim
  rss "spotdiff default" 1080p "$SPOTDIFF" compare "$DATA/1080p/a.png" "$DATA/1080p/b.png"
fi
rss "dssim" 1080p "$DSSIM" "$DATA/1080p/a.png" "$DATA/1080p/b.png"
rss "classic recipe" 1080p "$PY" "$CLASSIC" "$DATA/1080p/a.png" "$DATA/1080p/b.png"

step "writing $REPORT"
"$PY" scripts/bench/report.py --results "$RESULTS" --manifest "$DATA/manifest.json" --out "$REPORT"
info "done: $REPORT (raw results in $RESULTS)"
