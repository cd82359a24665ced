#!/usr/bin/env bash
# The cost of recording: boots the Linux guest under hvrr twice in the same
# run, once with record=off and once with record=stream (trace on COM2),
# and prints exits recorded, compressed bytes per exit, the compression
# ratio, and the overhead of recording in wall time, Bochs CPU time, host
# TSC (under Bochs: emulated instructions, deterministic) and guest virtual
# time.
#   scripts/bench-record.sh HVRR HV.elf VLBL BZIMAGE INITRD "KERNEL CMDLINE" OUTDIR [TIMEOUT_S]
set -uo pipefail
hvrr=$1 elf=$2 vlbl=$3 bz=$4 initrd=$5 kcmd=$6 out=$7 tmo=${8:-1200}
mkdir -p "$out"
mods=("$vlbl=vlbl" "$bz=bzImage" "$initrd=initrd")
for m in off stream; do
    scripts/mkiso-vm.sh "$out/$m.iso" "$elf" "guest=linux poweroff=1 record=$m cmdline=$kcmd" - - \
        "${mods[@]}" || exit 1
done

# "wall_s cpu_s" of one boot (CPU: user+sys of the emulator).
run() {
    local t
    TIMEFORMAT='%R %U %S'
    rm -f "$out/$1.com2"
    t=$({ time HVRR_COM2=$out/$1.com2 scripts/run-vm.sh "$out/$1.iso" "$out/$1.log" "$tmo" 2>/dev/null; } 2>&1)
    grep -aq '^hvrr: RESULT PASS' "$out/$1.log" || {
        echo "bench-record: $1 boot failed" >&2; tr -d '\r' <"$out/$1.log" | tail -20 >&2; return 1; }
    echo "$t" | awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }'
}
field() { # field NAME LOG: the number after "NAME " on the hv's Linux summary line
    tr -d '\r' <"$2" | sed -n "s/.*$1 \([0-9][0-9]*\).*/\1/p" | tail -1
}
read -r w_off c_off < <(run off) || exit 1
read -r w_rec c_rec < <(run stream) || exit 1
"$hvrr" capture -q --counts "$out/stream.com2" -o "$out/linux-boot.hvt" >"$out/capture.txt" 2>&1 || {
    echo "bench-record: capture failed" >&2; cat "$out/capture.txt" >&2; exit 1; }
"$hvrr" stats "$out/linux-boot.hvt" >"$out/stats.txt" || exit 1
exits=$(sed -n 's/^EXIT-COUNTS total=\([0-9]*\).*/\1/p' "$out/capture.txt")
hv_exits=$(tr -d '\r' <"$out/stream.log" | sed -n 's/^hvrr: EXIT-COUNTS total=\([0-9]*\).*/\1/p')
off_exits=$(tr -d '\r' <"$out/off.log" | sed -n 's/^hvrr: EXIT-COUNTS total=\([0-9]*\).*/\1/p')
bytes=$(stat -c %s "$out/linux-boot.hvt")
raw=$(sed -n 's/^compression *\([0-9]*\) -> \([0-9]*\).*/\1/p' "$out/stats.txt")
ratio=$(sed -n 's/^compression.*ratio \([0-9.]*\).*/\1/p' "$out/stats.txt")
ht_off=$(field "host TSC" "$out/off.log") ht_rec=$(field "host TSC" "$out/stream.log")
gt_off=$(field "guest virtual time" "$out/off.log") gt_rec=$(field "guest virtual time" "$out/stream.log")
gaps=$(sed -n 's/^SEQ-GAPS \(.*\)/\1/p' "$out/capture.txt")
# "H D": of the host TSC, handling exits and ending the trace (hv/main.c)
tsc_split() { tr -d '\r' <"$1" | sed -n 's/^hvrr:   host TSC outside the guest: \([0-9]*\) handling exits.*, \([0-9]*\) ending the trace.*/\1 \2/p' | tail -1; }
read -r hx_off hd_off <<<"$(tsc_split "$out/off.log")"
read -r hx_rec hd_rec <<<"$(tsc_split "$out/stream.log")"
echo "bench-record: Linux boot under hvrr on Bochs, record=off vs record=stream (COM2 115200 baud), same run"
echo "bench-record: exits: $off_exits (off), $hv_exits (recording; hv counters), $exits recorded; gaps: $gaps"
awk -v e="$exits" -v b="$bytes" -v raw="$raw" -v r="$ratio" 'BEGIN {
    printf "bench-record: trace %d bytes: %.3f compressed bytes per exit (goal <= 2.0), %.1f uncompressed, compression ratio %s\n", b, b / e, raw / e, r }'
awk -v a="$w_off" -v b="$w_rec" -v c="$c_off" -v d="$c_rec" -v ho="$ht_off" -v hr="$ht_rec" \
    -v xo="${hx_off:-}" -v xr="${hx_rec:-}" -v dr="${hd_rec:-0}" -v eo="${off_exits:-0}" -v er="${hv_exits:-0}" \
    -v go="$gt_off" -v gr="$gt_rec" 'BEGIN {
    printf "bench-record: wall s: off %.1f, recording %.1f (%+.1f %%); emulator CPU s: off %.1f, recording %.1f (%+.1f %%)\n", a, b, (b - a) * 100 / a, c, d, (d - c) * 100 / c;
    printf "bench-record: host TSC (Bochs: instructions) in the guest run: off %.0f, recording %.0f (%+.1f %%) (goal <= 10 %%)\n", ho, hr, (hr - ho) * 100 / ho;
    if (xo != "" && xr != "" && eo > 0 && er > 0) {
        r = xr / er - xo / eo
        printf "bench-record: exit handling %.0f -> %.0f instructions per exit: recorder %.0f per exit, %.2f %% of the off run to power-off (goal <= 5 %%); ending the trace (last frame, COM2 drain) %.0f more, %.2f %% with it\n", xo / eo, xr / er, r, r * eo * 100 / ho, dr, (r * eo + dr) * 100 / ho
    }
    printf "bench-record: guest virtual time to power-off: off %.3f s, recording %.3f s (%+.2f %%)\n", go / 1e6, gr / 1e6, (gr - go) * 100 / go }'
