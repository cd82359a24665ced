#!/usr/bin/env bash
# Recording overhead of the Linux test boot under hvrr on Bochs with N vCPUs
# (hv option cpus=N), in one run: the same ISO contents booted twice, with
# record=stream and with record=off. Bochs' TSC advances with its emulated
# clock (clock: sync=none, ips from scripts/vm-common.sh), so the hv's
# "host TSC" for the whole guest run counts emulated instructions of guest
# and hypervisor together. The hv also says how many of them it spent
# handling exits (hidden from the guest, hidetime=1) and ending the trace
# after the guest stopped (last frame, draining COM2 at 115200 baud); the
# rest is the guest's. The recorder's cost is the exit-handling difference
# per exit (the two boots may differ a little in schedule: exit counts and
# guest instructions are printed so that shows); the overhead is that cost
# over the recording-off run (goal <= 5 %), also with the drain, and as the
# plain difference of totals. Also prints the trace's bytes per exit.
#   scripts/bench-linux-rec.sh HV.elf VLBL BZIMAGE INITRD "KERNEL CMDLINE" OUTDIR CPUS HVRR [TIMEOUT_S]
set -euo pipefail
elf=$1 vlbl=$2 bz=$3 initrd=$4 kcmd=$5 out=$6 cpus=$7 hvrr=$8 tmo=${9:-1500}
mkdir -p "$out"
for rec in stream off; do
    scripts/mkiso-vm.sh "$out/rec-$rec.iso" "$elf" \
        "guest=linux poweroff=1 cpus=$cpus record=$rec cmdline=$kcmd" - - \
        "$vlbl=vlbl" "$bz=bzImage" "$initrd=initrd"
done
boot() { # REC: "T E H D": host TSC of the run, exits, of T handling exits, of T ending the trace
    rm -f "$out/rec-$1.com2"
    HVRR_COM2=$out/rec-$1.com2 scripts/run-vm.sh "$out/rec-$1.iso" "$out/rec-$1.log" "$tmo" \
        >/dev/null 2>&1 || true
    grep -aq '^hvrr: RESULT PASS linux' "$out/rec-$1.log" || {
        echo "bench-linux-rec: cpus=$cpus record=$1 boot failed" >&2
        tr -d '\r' <"$out/rec-$1.log" | tail -20 >&2
        return 1
    }
    local te hd
    te=$(tr -d '\r' <"$out/rec-$1.log" | sed -n 's/^hvrr:   host TSC \([0-9]*\) for \([0-9]*\) exits.*/\1 \2/p' | head -1)
    hd=$(tr -d '\r' <"$out/rec-$1.log" |
        sed -n 's/^hvrr:   host TSC outside the guest: \([0-9]*\) handling exits.*, \([0-9]*\) ending the trace.*/\1 \2/p' | head -1)
    [ -n "$te" ] && [ -n "$hd" ] || { echo "bench-linux-rec: no TSC figures in $out/rec-$1.log" >&2; return 1; }
    echo "$te $hd"
}
read -r t_on e_on h_on d_on <<<"$(boot stream)"
read -r t_off e_off h_off d_off <<<"$(boot off)"
"$hvrr" capture -q "$out/rec-stream.com2" -o "$out/rec.hvt" >/dev/null
bytes=$(stat -c %s "$out/rec.hvt")
awk -v c="$cpus" -v ips="${HVRR_BOCHS_IPS:-50000000}" \
    -v ton="$t_on" -v eon="$e_on" -v hon="$h_on" -v don="$d_on" \
    -v toff="$t_off" -v eoff="$e_off" -v hoff="$h_off" -v doff="$d_off" -v bytes="$bytes" 'BEGIN {
    p = "bench-linux-rec: cpus=" c
    gon = ton - hon - don; goff = toff - hoff - doff
    r = hon / eon - hoff / eoff              # recorder instructions per exit
    printf "%s Linux test boot, Bochs ips %.0f: emulated instructions (host TSC) of the run, recording off / on\n", p, ips
    printf "%s   exits              %12.0f %12.0f (%+.2f %%)\n", p, eoff, eon, (eon - eoff) * 100 / eoff
    printf "%s   guest              %12.0f %12.0f (%+.2f %%: the schedule)\n", p, goff, gon, (gon - goff) * 100 / goff
    printf "%s   handling exits     %12.0f %12.0f (%.0f / %.0f per exit: recorder %.0f per exit)\n", p, hoff, hon, hoff / eoff, hon / eon, r
    printf "%s   ending the trace   %12.0f %12.0f (last frame, COM2 drain at 115200 baud)\n", p, doff, don
    printf "%s   total              %12.0f %12.0f (%+.2f %%)\n", p, toff, ton, (ton - toff) * 100 / toff
    printf "%s recording overhead to power-off %.2f %% (recorder per exit x exits / total off; goal <= 5 %%), with the drain after power-off %.2f %%; plain difference of totals %+.2f %%\n", p, r * eoff * 100 / toff, (r * eoff + don) * 100 / toff, (ton - toff) * 100 / toff
    printf "%s trace %.0f bytes for %.0f exits: %.2f bytes per exit\n", p, bytes, eon, bytes / eon }'
