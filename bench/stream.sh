#!/usr/bin/env bash
# The stream benchmark: how close does `strata stream` get to the physical bounds of
# reading the same store paths (`tar -c | cat`) and reading + hashing them
# (`tar -c | openssl dgst -sha256`), and how much memory does it hold while doing it?
#
# See bench/README.md for what every number means. Summary:
#   bench/stream.sh [--workdir DIR] [--scale N] [--strata BIN] [--runs R] [--layers L]
#                   [--with-python SCRIPT [--python BIN] [--python-runs R] [--check-python]]
#                   [--pipe-diag] [--gen-only]
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORKDIR=$ROOT/bench/work
SCALE=1
STRATA=
RUNS=3
LAYERS=99
PY_SCRIPT=
PY_BIN=python3
PY_RUNS=1
PY_CHECK=0
GEN_ONLY=0
PIPE_DIAG=0

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    cat <<'EOF'
Options:
  --workdir DIR        where the store, confs and logs live (default: bench/work, git-ignored)
  --scale N            copy the source trees N times (N replicas, distinct store paths)
  --strata BIN         strata binary to time (default: cargo build --release, static target)
  --runs R             timed runs of each command, interleaved (default 3; best and median shown)
  --layers L           number of store layers in the conf (default 99; +1 customisation layer)
  --with-python SCRIPT also time nixpkgs' stream_layered_image.py (not shipped here)
  --python BIN         interpreter for SCRIPT (default python3)
  --python-runs R      timed runs of the Python streamer (default 1: it is slow)
  --check-python       one more, untimed, Python run to compare its sha256 with strata's
  --pipe-diag          also time strata into a 1 MiB pipe (the consumer enlarges it), to see
                       how much of strata's time is pipe wake-ups (needs python3)
  --gen-only           build the store and conf, print their stats, time nothing
EOF
}

die() { echo "stream.sh: error: $*" >&2; exit 1; }
note() { echo "stream.sh: $*" >&2; }

while (($#)); do
    case $1 in
        --workdir) WORKDIR=${2:?}; shift 2 ;;
        --scale) SCALE=${2:?}; shift 2 ;;
        --strata) STRATA=${2:?}; shift 2 ;;
        --runs) RUNS=${2:?}; shift 2 ;;
        --layers) LAYERS=${2:?}; shift 2 ;;
        --with-python) PY_SCRIPT=${2:?}; shift 2 ;;
        --python) PY_BIN=${2:?}; shift 2 ;;
        --python-runs) PY_RUNS=${2:?}; shift 2 ;;
        --check-python) PY_CHECK=1; shift ;;
        --pipe-diag) PIPE_DIAG=1; shift ;;
        --gen-only) GEN_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for n in SCALE RUNS LAYERS PY_RUNS; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "--${n,,} wants a positive integer, got '${!n}'"
done

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd -P)
# Store paths go into conf.json verbatim (written with printf, not a JSON library).
[[ $WORKDIR =~ ^[A-Za-z0-9/._+-]+$ ]] || die "--workdir must be a plain path ([A-Za-z0-9/._+-]): $WORKDIR"
STORE=$WORKDIR/nix/store
LOGS=$WORKDIR/logs
mkdir -p "$STORE" "$LOGS"

tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is required"
command -v openssl >/dev/null || die "openssl is required"
[[ -x /usr/bin/time ]] || die "GNU time is required for peak RSS: apt-get install time"
export LC_ALL=C # byte-wise sorting, plain number formats

# ---------------------------------------------------------------------------------------
# The source trees. Every unit becomes one store path `<hash>-<name>`: a copy of one
# source entry (a directory, a file or a symlink), or a directory holding copies of
# several entries. Real trees give real shapes: deep package dirs, many small files,
# a few big ones, symlinks, long and odd names, a range of modes.
PY=/root/.pyenv/versions/3.11.7
RUST_DOC=/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html
JDK=/usr/lib/jvm/java-17-openjdk-amd64

sanitize() { # a Nix store path name: [A-Za-z0-9+._?=-], no leading dot
    local n=${1//[^A-Za-z0-9+._?=-]/-}
    printf '%s' "${n#.}"
}

emit_children() { # PREFIX DIR [EXCLUDE]: one unit per entry of DIR
    local prefix=$1 dir=$2 exclude=${3:-} e
    [[ -d $dir ]] || { note "source missing, skipped: $dir"; return 0; }
    while IFS= read -r -d '' e; do
        [[ -n $exclude && ${e##*/} == "$exclude" ]] && continue
        printf '%s\t%s\n' "$prefix-$(sanitize "${e##*/}")" "$e"
    done < <(find "$dir" -mindepth 1 -maxdepth 1 -print0 | sort -z)
}

emit_one() { # NAME PATH
    if [[ -e $2 || -L $2 ]]; then printf '%s\t%s\n' "$1" "$2"; else note "source missing, skipped: $2"; fi
}

enumerate_units() {
    local stdlib=$PY/lib/python3.11 loose=() e
    emit_children python3.11-site "$stdlib/site-packages"
    # stdlib packages one by one, the loose modules together in one path
    while IFS= read -r -d '' e; do
        if [[ -d $e && ! -L $e ]]; then
            [[ ${e##*/} == site-packages ]] || printf '%s\t%s\n' "python3.11-stdlib-$(sanitize "${e##*/}")" "$e"
        else
            loose+=("$e")
        fi
    done < <(find "$stdlib" -mindepth 1 -maxdepth 1 -print0 2>/dev/null | sort -z)
    ((${#loose[@]})) && { printf 'python3.11-stdlib-modules'; printf '\t%s' "${loose[@]}"; printf '\n'; }
    emit_children python3.11-lib "$PY/lib" python3.11
    emit_one python3.11-bin "$PY/bin"
    emit_one python3.11-include "$PY/include"
    emit_one python3.11-share "$PY/share"
    emit_children share /usr/share
    emit_one openjdk-17 "$JDK"
    emit_one rust-doc-core "$RUST_DOC/core"
    emit_one rust-doc-std "$RUST_DOC/std"
}

NIX32=0123456789abcdfghijklmnpqrsvwxyz
store_hash() { # KEY -> 32 nix-base32 characters, deterministic
    printf '%s' "$1" | openssl dgst -sha256 -binary | base32 -w0 | cut -c1-32 |
        tr ABCDEFGHIJKLMNOPQRSTUVWXYZ234567 "$NIX32"
}

copy_unit() { # DEST SRC... : hardlink-free copy keeping modes, symlinks, owners, times
    local dest=$1; shift
    local cp_opts=(-R --no-dereference --preserve=mode,ownership,timestamps)
    if (($# == 1)); then
        cp "${cp_opts[@]}" -- "$1" "$dest"
    else
        mkdir "$dest"
        cp "${cp_opts[@]}" -- "$@" "$dest/"
    fi
}

UNITS=$WORKDIR/units.tsv
enumerate_units > "$UNITS.new"
mv "$UNITS.new" "$UNITS"
UNITS_ID=$(openssl dgst -sha256 -r "$UNITS" | cut -c1-64)
NUNITS=$(wc -l < "$UNITS")
((NUNITS > 0)) || die "no source trees found"

# Replica r's store paths, in units.tsv order (NUL-separated), built on demand.
replica_list() { printf '%s/replica-%d.paths0' "$WORKDIR" "$1"; }

build_replica() { # R
    local r=$1 done=$WORKDIR/replica-$1.done list name srcs hash dest tmp n=0
    list=$(replica_list "$r")
    if [[ -f $done && $(<"$done") == "$UNITS_ID" && -f $list ]]; then
        return 0
    fi
    note "building replica $r of the store ($NUNITS paths) under $STORE"
    : > "$list.new"
    while IFS=$'\t' read -r -a f; do
        name=${f[0]}; srcs=("${f[@]:1}")
        hash=$(store_hash "strata-bench/$r/${srcs[*]}")
        dest=$STORE/$hash-$name
        if [[ ! -e $dest && ! -L $dest ]]; then
            tmp=$STORE/.tmp-$hash-$name
            rm -rf -- "$tmp"
            copy_unit "$tmp" "${srcs[@]}"
            mv -T -- "$tmp" "$dest"
        fi
        printf '%s\0' "$dest" >> "$list.new"
        n=$((n + 1))
        ((n % 50)) || note "  replica $r: $n/$NUNITS paths"
    done < "$UNITS"
    mv "$list.new" "$list"
    printf '%s' "$UNITS_ID" > "$done"
}

# Free space: each missing replica needs about one source-tree's worth.
need_replicas=()
for ((r = 0; r < SCALE; r++)); do
    d=$WORKDIR/replica-$r.done
    [[ -f $d && $(<"$d") == "$UNITS_ID" && -f $(replica_list $r) ]] || need_replicas+=("$r")
done
if ((${#need_replicas[@]})); then
    per_replica=$(cut -f2- "$UNITS" | tr '\t' '\n' | tr '\n' '\0' | du -scb --files0-from=- | tail -1 | cut -f1)
    need=$((per_replica * ${#need_replicas[@]} + (1 << 30)))
    avail=$(df --output=avail -B1 "$WORKDIR" | tail -1 | tr -d ' ')
    if ((need > avail)); then
        msg=$(awk -v n="$need" -v a="$avail" -v s="$SCALE" \
            'BEGIN { printf "SKIPPED scale %d: the store needs %.1f GiB more, %.1f GiB free", s, n / 2^30, a / 2^30 }')
        echo "$msg under $WORKDIR (df -h: $(df -h --output=avail "$WORKDIR" | tail -1 | tr -d ' '))"
        exit 0
    fi
    for r in "${need_replicas[@]}"; do build_replica "$r"; done
fi

# ---------------------------------------------------------------------------------------
# The customisation layer: what nixpkgs builds with GNU tar from the image's extra
# contents (symlinks into the store, /etc files, /tmp), plus its checksum file.
CUST=$STORE/$(store_hash strata-bench/customisation)-bench-customisation-layer
if [[ ! -f $CUST/checksum ]]; then
    src=$WORKDIR/customisation-src
    rm -rf -- "$src" "$CUST.tmp"
    mkdir -p "$src/bin" "$src/etc" "$src/tmp" "$src/usr/share" "$CUST.tmp"
    chmod 1777 "$src/tmp"
    py_bin=$(grep -m1 -P '^python3.11-bin\t' "$UNITS" | cut -f1)
    first=$(tr '\0' '\n' < "$(replica_list 0)" | grep -m1 -- "-$py_bin\$" || true)
    [[ -n $first ]] && ln -s "$first/python3" "$src/bin/python3"
    ln -s /bin/python3 "$src/bin/python"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/false\n' > "$src/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$src/etc/group"
    printf 'hosts: files dns\n' > "$src/etc/nsswitch.conf"
    if [[ -d /usr/share/zoneinfo ]]; then cp -R --no-dereference /usr/share/zoneinfo "$src/usr/share/"; fi
    tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner -C "$src" -cf "$CUST.tmp/layer.tar" .
    openssl dgst -sha256 -r "$CUST.tmp/layer.tar" | cut -c1-64 > "$CUST.tmp/checksum"
    rm -rf -- "$CUST"
    mv -T -- "$CUST.tmp" "$CUST"
fi

# ---------------------------------------------------------------------------------------
# The conf: all paths of the replicas in use, sorted (so by hash, as Nix would order
# them), cut into LAYERS consecutive groups of near-equal count. Deterministic.
TAG=x$SCALE
PATHS0=$WORKDIR/paths-$TAG.paths0 # the store layers' paths, layer order, NUL-separated
TARLIST0=$WORKDIR/tar-$TAG.paths0  # the same plus the customisation layer.tar
CONF=$WORKDIR/conf-$TAG.json
for ((r = 0; r < SCALE; r++)); do cat "$(replica_list $r)"; done | sort -z > "$PATHS0"
{ cat "$PATHS0"; printf '%s\0' "$CUST/layer.tar"; } > "$TARLIST0"
mapfile -d '' -t ALL < "$PATHS0"
NPATHS=${#ALL[@]}
((LAYERS > NPATHS)) && LAYERS=$NPATHS
{
    printf '{\n  "architecture": "amd64",\n'
    printf '  "config": {"Cmd": ["/bin/python3"], "Env": ["PATH=/bin", "LANG=C.UTF-8"], "WorkingDir": "/"},\n'
    printf '  "os": "linux",\n  "store_dir": "%s",\n  "from_image": null,\n  "store_layers": [\n' "$STORE"
    for ((l = 0; l < LAYERS; l++)); do
        lo=$((l * NPATHS / LAYERS)); hi=$(((l + 1) * NPATHS / LAYERS))
        printf '    ['
        for ((i = lo; i < hi; i++)); do
            ((i > lo)) && printf ', '
            printf '"%s"' "${ALL[i]}"
        done
        ((l + 1 < LAYERS)) && printf '],\n' || printf ']\n'
    done
    printf '  ],\n  "customisation_layer": "%s",\n' "$CUST"
    printf '  "repo_tag": "strata-bench:%s",\n' "$TAG"
    printf '  "created": "1970-01-01T00:00:01+00:00",\n  "mtime": "1970-01-01T00:00:01+00:00",\n'
    printf '  "uid": "0",\n  "gid": "0",\n  "uname": "root",\n  "gname": "root"\n}\n'
} > "$CONF.new"
mv "$CONF.new" "$CONF"

STORE_BYTES=$(du -scb --files0-from="$PATHS0" | tail -1 | cut -f1)
TYPES=$(find -files0-from "$PATHS0" -printf '%y\n' | sort | uniq -c)
count_type() { awk -v t="$1" '$2 == t || t == "all" { n += $1 } END { print n + 0 }' <<< "$TYPES"; }
NFILES=$(count_type f); NLINKS=$(count_type l); NENTRIES=$(count_type all)

gib() { awk -v b="$1" 'BEGIN { printf "%.2f GiB", b / 2^30 }'; }
thousands() { printf '%d' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
STORE_LINE="store: $(gib "$STORE_BYTES"), $(thousands "$NFILES") files ($NENTRIES entries, $NLINKS symlinks), $NPATHS paths, $LAYERS store layers + customisation layer (scale $SCALE)"
echo "$STORE_LINE"
echo "conf:  $CONF"
((GEN_ONLY)) && exit 0

# ---------------------------------------------------------------------------------------
# The binary under test.
if [[ -z $STRATA ]]; then
    note "building strata: cargo build --release"
    (cd "$ROOT" && cargo build --release -j 2 --quiet) || die "cargo build --release failed"
    STRATA=$ROOT/target/x86_64-unknown-linux-gnu/release/strata
fi
[[ -x $STRATA ]] || die "not executable: $STRATA"

# ---------------------------------------------------------------------------------------
# The commands. Each is a pipeline into `cat > /dev/null`: GNU tar notices a direct
# /dev/null and then skips reading file contents, and a pipe is what `docker load` gets.
tar_cat() { tar --null -T "$TARLIST0" -cPf - | cat > /dev/null; }
tar_openssl() { tar --null -T "$TARLIST0" -cPf - | openssl dgst -sha256 > /dev/null; }
RSS_FILE=$LOGS/rss.$$
TTFB_FILE=$LOGS/ttfb.$$
strata_cat() { # also notes when the first byte arrives (the consumer is still cat)
    /usr/bin/time -f %M -o "$RSS_FILE" "$STRATA" stream "$CONF" 2> "$LOGS/strata.stderr" |
        { head -c 1 > /dev/null; echo "$EPOCHREALTIME" > "$TTFB_FILE"; cat > /dev/null; }
}
# The same, but the reader first grows the pipe from 64 KiB to 1 MiB (F_SETPIPE_SZ = 1031),
# as a writer could do for itself; the difference is the cost of pipe ping-pong.
BIG_PIPE_CAT='import fcntl, os; fcntl.fcntl(0, 1031, 1 << 20); os.execvp("cat", ["cat"])'
strata_cat1m() {
    /usr/bin/time -f %M -o "$RSS_FILE" "$STRATA" stream "$CONF" 2> "$LOGS/strata.stderr" |
        python3 -c "$BIG_PIPE_CAT" > /dev/null
}
python_cat() {
    /usr/bin/time -f %M -o "$RSS_FILE" "$PY_BIN" "$PY_SCRIPT" "$CONF" 2> "$LOGS/python.stderr" | cat > /dev/null
}
last_rss() { tail -1 "$RSS_FILE"; }

declare -A TIMES RSS
timed() { # NAME FUNC: run once, append wall seconds to TIMES[NAME]
    local t0 t1 rc=0
    t0=$EPOCHREALTIME
    "$2" || rc=$?
    t1=$EPOCHREALTIME
    T0=$t0
    if ((rc)); then
        note "$1 failed (exit $rc)"
        [[ -s $LOGS/${1%%|*}.stderr ]] && tail -5 "$LOGS/${1%%|*}.stderr" >&2
        return "$rc"
    fi
    TIMES[$1]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') "
}
best() { tr ' ' '\n' <<< "${TIMES[$1]}" | grep . | sort -g | head -1; }
median() { tr ' ' '\n' <<< "${TIMES[$1]}" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Warm the page cache, and check strata's output is an archive of the expected shape
# (this untimed run also warms strata's own reads).
note "warming the page cache"
tar_cat
note "checking strata's output: $STRATA stream $CONF"
CHECK=$LOGS/check-$TAG
rc=0
"$STRATA" stream "$CONF" 2> "$LOGS/strata.stderr" |
    tee >(openssl dgst -sha256 -r | cut -c1-64 > "$CHECK.sha256") >(wc -c > "$CHECK.bytes") |
    tar -tf - > "$CHECK.members" || rc=$?
if ((rc)); then
    tail -5 "$LOGS/strata.stderr" >&2
    die "strata stream failed (exit $rc); not timing it"
fi
sleep 0.2 # the process substitutions finish asynchronously
OUT_BYTES=$(<"$CHECK.bytes")
OUT_SHA=$(<"$CHECK.sha256")
NMEMBERS=$(wc -l < "$CHECK.members")
NLAYER_MEMBERS=$(grep -c '^[0-9a-f]\{64\}/layer\.tar$' "$CHECK.members" || true)
if ((NLAYER_MEMBERS != LAYERS + 1)) || ! grep -qx manifest.json "$CHECK.members"; then
    die "strata's output has $NLAYER_MEMBERS layer members (want $((LAYERS + 1))) / no manifest.json; see $CHECK.members"
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= RUNS; i++)); do
    note "run $i/$RUNS"
    timed 'tar|cat' tar_cat
    timed 'tar|openssl' tar_openssl
    timed 'strata|cat' strata_cat
    TIMES[ttfb]+="$(awk -v a="$T0" -v b="$(<"$TTFB_FILE")" 'BEGIN { printf "%.3f", b - a }') "
    r=$(last_rss)
    ((${RSS[strata]:-0} > r)) || RSS[strata]=$r
    if ((PIPE_DIAG)); then timed 'strata|cat1M' strata_cat1m; fi
done

PY_LINE=
if [[ -n $PY_SCRIPT ]]; then
    [[ -f $PY_SCRIPT ]] || die "--with-python: no such file: $PY_SCRIPT"
    for ((i = 1; i <= PY_RUNS; i++)); do
        note "python run $i/$PY_RUNS: $PY_BIN $PY_SCRIPT"
        timed 'python|cat' python_cat
        r=$(last_rss)
        ((${RSS[python]:-0} > r)) || RSS[python]=$r
    done
    if ((PY_CHECK)); then
        note "python check run (untimed)"
        py_sha=$("$PY_BIN" "$PY_SCRIPT" "$CONF" 2> "$LOGS/python.stderr" | openssl dgst -sha256 -r | cut -c1-64)
        if [[ $py_sha == "$OUT_SHA" ]]; then PY_LINE="python output == strata output (sha256 $OUT_SHA)"
        else PY_LINE="python output DIFFERS: python sha256 $py_sha, strata $OUT_SHA"; fi
    fi
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f "$RSS_FILE" "$TTFB_FILE"

# ---------------------------------------------------------------------------------------
T_CAT=$(best 'tar|cat'); T_SSL=$(best 'tar|openssl'); T_STR=$(best 'strata|cat')
row() { # NAME LABEL SUFFIX
    awk -v n="$2" -v b="$(best "$1")" -v m="$(median "$1")" -v bytes="$STORE_BYTES" -v s="$3" \
        'BEGIN { printf "%-13s %7.2f s  (median %6.2f s, %5.2f GiB/s)  %s\n", n, b, m, bytes / 2^30 / b, s }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratios() { # NAME: best/best ratios, and median/median against tar|openssl
    awk -v t="$(best "$1")" -v s="$T_SSL" -v c="$T_CAT" -v tm="$(median "$1")" -v sm="$(median 'tar|openssl')" \
        'BEGIN { printf "ratio vs tar|openssl %.2f (medians %.2f), vs tar|cat %.2f", t / s, tm / sm, t / c }'
}

echo
echo "$STORE_LINE"
echo "strata: $STRATA ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "image:  $(gib "$OUT_BYTES"), $NMEMBERS members, sha256 $OUT_SHA"
echo "times:  best of $RUNS (interleaved, warm page cache); GiB/s is store bytes / best time"
row 'tar|cat' 'tar|cat' '(bound: read)'
row 'tar|openssl' 'tar|openssl' '(bound: read + sha256)'
row 'strata|cat' 'strata|cat' "$(ratios 'strata|cat'), peak RSS $(mib "${RSS[strata]}")"
[[ -n ${TIMES['strata|cat1M']:-} ]] && row 'strata|cat1M' 'strata|cat1M' "$(ratios 'strata|cat1M'), diagnostic: 1 MiB pipe"
if [[ -n ${TIMES['python|cat']:-} ]]; then
    row 'python|cat' 'python|cat' "$(ratios 'python|cat'), peak RSS $(mib "${RSS[python]}"), nixpkgs reference"
    [[ -n $PY_LINE ]] && echo "$PY_LINE"
fi
echo "strata's first byte after: $(median ttfb) s (median; $(tr -s ' ' <<< "${TIMES[ttfb]}"))"
echo "all runs (s): $(for k in 'tar|cat' 'tar|openssl' 'strata|cat' 'strata|cat1M' 'python|cat'; do
    [[ -n ${TIMES[$k]:-} ]] && printf '%s: %s; ' "$k" "$(tr -s ' ' <<< "${TIMES[$k]}" | sed 's/ $//')"; done)"
echo "load average (1/5/15 min) before timing: $LOAD_BEFORE, after: $LOAD_AFTER (the bench itself adds ~2-4; more is other work, which inflates every row)"
awk -v t="$T_STR" -v s="$T_SSL" -v tm="$(median 'strata|cat')" -v sm="$(median 'tar|openssl')" -v r="${RSS[strata]}" 'BEGIN {
    printf "targets: time <= 1.25 x tar|openssl: %s (best %.2f, medians %.2f); peak RSS <= 32 MiB: %s\n",
        (t <= 1.25 * s) ? "met" : "MISSED", t / s, tm / sm, (r <= 32 * 1024) ? "met" : "MISSED" }'
