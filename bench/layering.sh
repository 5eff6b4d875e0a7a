#!/usr/bin/env bash
# Layering benchmark: whole-process time and peak RSS of `strata layers` (every
# algorithm) and `strata conf` on generated graphs of 2,000 and 10,000 paths.
#
# usage: bench/layering.sh [RUNS]   (default 5; the best wall time of RUNS is reported,
#                                    measured with bash's EPOCHREALTIME around the run;
#                                    peak RSS (GNU time %M) is the largest seen)
# Needs python3 and GNU time (/usr/bin/time; Debian package `time`).
# Targets: < 0.1 s and < 64 MiB on the 10k graph.
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -j2 --quiet
bin=$(ls -d "${CARGO_TARGET_DIR:-$root/target}"/x86_64-unknown-linux-gnu/release/strata)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%s\n' '[["popularity_contest"], ["limit_layers", 99]]' > "$work/default.json"

printf '| graph | what | best of %s (s, wall, incl. exec) | peak RSS (MiB) |\n|---|---|---|---|\n' "$runs"
for n in 2000 10000; do
  graph=$work/g$n.json
  python3 bench/layering-gen.py "$n" "$graph"
  # Two large paths to split on, for a split_paths pipeline.
  python3 - "$graph" "$work/split$n.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["graph"]
big = sorted(g, key=lambda x: x["narSize"])[-2:]
p = [["split_paths", [x["path"] for x in big]],
     ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 90]]]]]
json.dump(p, open(sys.argv[2], "w"))
PY
  base=$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["graph"]; print(min(g, key=lambda x: x["narSize"])["path"])' "$graph")
  printf '{"architecture":"amd64","config":{},"os":"linux"}' > "$work/base.json"
  declare -A cmds=(
    [popularity]="layers --graph $graph --algorithm popularity --layers 99"
    [auto]="layers --graph $graph --algorithm auto --layers 99"
    [pipeline-default]="layers --graph $graph --algorithm pipeline --pipeline $work/default.json"
    [pipeline-split]="layers --graph $graph --algorithm pipeline --pipeline $work/split$n.json"
    [conf-auto]="conf --base-json $work/base.json --graph $graph --customisation-layer $base --name bench --tag t"
  )
  for what in popularity auto pipeline-default pipeline-split conf-auto; do
    best=999; rss=0
    for _ in $(seq "$runs"); do
      start=$EPOCHREALTIME
      # shellcheck disable=SC2086
      m=$(/usr/bin/time -f '%M' "$bin" ${cmds[$what]} 2>&1 >/dev/null | tail -1)
      end=$EPOCHREALTIME
      best=$(python3 -c "print(min($best, round($end - $start, 4)))")
      rss=$(( m > rss ? m : rss ))
    done
    printf '| %s | %s | %s | %.1f |\n' "$n" "$what" "$best" "$(python3 -c "print($rss/1024)")"
  done
  unset cmds
done
