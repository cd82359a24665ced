#!/usr/bin/env bash
# make fuzz-all: every libFuzzer target of the CLI and the trace reader for a
# total wall-clock budget of FUZZ_TIME seconds, two targets at a time (the
# targets share the budget: each gets FUZZ_TIME * 2 / targets). Each runs in
# fork mode so a crash or timeout is counted and fuzzing goes on; limits:
# -rss_limit_mb=512 -timeout=10 -max_len=4194304. Prints per target: runs,
# crashes, timeouts, OOMs and peak RSS (whole process tree, GNU time).
# Env: BUILD (build dir), FUZZ_TIME (seconds), HVRR (the CLI, for seeds),
# FUZZ_TARGETS (names, default all).
set -u
BUILD=${BUILD:-build}
FUZZ_TIME=${FUZZ_TIME:-60}
HVRR=${HVRR:-$BUILD/hvrr}
FUZZ_TARGETS=${FUZZ_TARGETS:-"dump stats replay diff export reader"}
top=$BUILD/fuzz/all
mkdir -p "$top/seeds" || exit 1

# Seeds: valid traces (corpus + synthetic) and crafted ones (valid framing,
# impossible records) re-encoded by the project's writer; small enough for
# libFuzzer to mutate quickly, but the crc-storm one is 1 MiB.
seeds=$top/seeds
rm -f "$seeds"/*
"$HVRR" synth -o "$seeds/synth-300.hvt" --exits 300 --checkpoint-every 100 2>/dev/null
"$HVRR" synth -o "$seeds/synth-2000.hvt" --exits 2000 --seed 7 --checkpoint-every 500 2>/dev/null
for t in corpus/*.hvt; do
    [ "$(stat -c %s "$t")" -le 45000 ] && cp "$t" "$seeds/" # big ones: slow runs
done
for k in io-value out-wide io-size seq-gap seq-back reason-detail vcpu dev-irq dev-names no-header random; do
    for base in corpus/io-guest.hvt corpus/serial-shell.hvt; do
        b=$(basename "$base" .hvt)
        "$HVRR" synth --craft $k --from "$base" -e 200 -o "$seeds/craft-$k-$b.hvt" 2>/dev/null
    done
done
for s in 1 2 3 4 5 6; do
    "$HVRR" synth --craft random --seed $s --from corpus/linux-boot-quiet.hvt -e 400 \
        -o "$seeds/craft-random-$s.hvt" 2>/dev/null
done
"$HVRR" synth --craft crc-storm -e 100 -c 50 -o "$seeds/craft-crc-storm.hvt" 2>/dev/null
head -c 3000 /dev/urandom >"$top/noise"
cat "$top/noise" corpus/io-guest.hvt "$top/noise" >"$seeds/garbage-around.hvt"

# Per target, seeds with the option byte (and for diff the split) in front.
prep() { # target dir
    local t=$1 d=$2
    local i=0
    mkdir -p "$d"
    rm -f "$d"/*
    for f in "$seeds"/*; do
        i=$((i + 1))
        local opt=$((i % 8))
        if [ "$t" = reader ]; then
            cp "$f" "$d/"
        elif [ "$t" = diff ]; then
            # A = the seed, B = corpus/io-guest.hvt (or the seed itself)
            local other=corpus/io-guest.hvt
            [ $((i % 2)) -eq 0 ] && other=$f
            local n; n=$(stat -c %s "$f")
            { printf "\\x$(printf %02x $opt)"; printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $(((n >> 8) & 255)))\\x$(printf %02x $(((n >> 16) & 255)))\\x$(printf %02x $(((n >> 24) & 255)))"; cat "$f" "$other"; } >"$d/$(basename "$f")"
            # unframed: A's and B's record streams (the harness frames each)
            "$HVRR" export --raw -o "$d/a.tmp" "$f" 2>/dev/null
            "$HVRR" export --raw -o "$d/b.tmp" "$other" 2>/dev/null
            n=$(stat -c %s "$d/a.tmp")
            { printf "\\x$(printf %02x $((opt | 128)))"; printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $(((n >> 8) & 255)))\\x$(printf %02x $(((n >> 16) & 255)))\\x$(printf %02x $(((n >> 24) & 255)))"; cat "$d/a.tmp" "$d/b.tmp"; } >"$d/raw-$(basename "$f")"
            rm -f "$d/a.tmp" "$d/b.tmp"
        else
            { printf "\\x$(printf %02x $opt)"; cat "$f"; } >"$d/$(basename "$f")"
            # the same records unframed (top option bit: the harness frames them)
            if "$HVRR" export --raw -o "$d/raw.tmp" "$f" 2>/dev/null || [ -s "$d/raw.tmp" ]; then
                { printf "\\x$(printf %02x $((opt | 128)))"; cat "$d/raw.tmp"; } >"$d/raw-$(basename "$f")"
            fi
            rm -f "$d/raw.tmp"
        fi
    done
}

ntargets=$(echo $FUZZ_TARGETS | wc -w)
per=$((FUZZ_TIME * 2 / ntargets))
[ "$per" -lt 5 ] && per=5
echo "fuzz-all: $ntargets targets, $per s each, 2 at a time (budget $FUZZ_TIME s)"

run_one() {
    local t=$1
    local bin=$BUILD/fuzz/fuzz_$t dir=$top/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    prep "$t" "$dir/seeds"
    rm -f "$dir/artifacts"/*
    # `-fork=1`: a crash/timeout/OOM ends that job only; counted, fuzzing goes on.
    /usr/bin/time -f '%M' -o "$dir/rss" "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -rss_limit_mb=512 -timeout=10 -max_len=4194304 -max_total_time="$per" \
        -artifact_prefix="$dir/artifacts/" -print_final_stats=1 "$dir/corpus" "$dir/seeds" \
        >"$dir/log" 2>&1
    echo $? >"$dir/rc"
}
export -f run_one prep
export BUILD top seeds per HVRR
printf '%s\n' $FUZZ_TARGETS | xargs -P 2 -I{} bash -c 'run_one {}'

bad=0
printf '%-8s %12s %8s %9s %5s %10s\n' target runs crashes timeouts ooms "peak RSS"
for t in $FUZZ_TARGETS; do
    dir=$top/$t
    last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1)
    runs=$(echo "$last" | sed -nE 's/^#([0-9]+).*/\1/p')
    crashes=$(find "$dir/artifacts" -name 'crash-*' -o -name 'leak-*' -o -name 'deadly-*' | wc -l)
    timeouts=$(find "$dir/artifacts" -name 'timeout-*' | wc -l)
    ooms=$(find "$dir/artifacts" -name 'oom-*' | wc -l)
    ctr=$(echo "$last" | sed -nE 's/.*oom\/timeout\/crash: *([0-9]+)\/([0-9]+)\/([0-9]+).*/\1 \2 \3/p')
    if [ -n "$ctr" ]; then
        set -- $ctr
        [ "$1" -gt "$ooms" ] && ooms=$1
        [ "$2" -gt "$timeouts" ] && timeouts=$2
        [ "$3" -gt "$crashes" ] && crashes=$3
    fi
    rss=$(tail -1 "$dir/rss" 2>/dev/null)
    rss_mb=$(( ${rss:-0} / 1024 ))
    printf '%-8s %12s %8s %9s %5s %7s MiB\n' "$t" "${runs:-?}" "$crashes" "$timeouts" "$ooms" "$rss_mb"
    if [ -z "$runs" ] || [ "$crashes" -ne 0 ] || [ "$timeouts" -ne 0 ] || [ "$ooms" -ne 0 ] ||
        [ "$rss_mb" -ge 512 ]; then
        bad=1
        echo "  see $dir/log and $dir/artifacts/"
    fi
done
[ "$bad" -eq 0 ] && echo "fuzz-all: clean" || echo "fuzz-all: FINDINGS"
exit $bad
