#!/usr/bin/env bash
# Recording overhead of the Linux test boot under hvrr on Bochs with N vCPUs
# (hv option cpus=N), in one run: the same ISO contents booted twice, with
# record=stream and with record=off. Bochs' TSC advances with its emulated
# clock (clock: sync=none, ips from scripts/vm-common.sh), so the hv's
# "host TSC" for the whole guest run counts emulated instructions of guest
# and hypervisor together: the difference is the recorder's own work
# (goal <= 5 %). The guest does not see it (hidetime=1), so both boots run
# the same guest instructions. Also prints the trace's bytes per exit.
#   scripts/bench-linux-rec.sh HV.elf VLBL BZIMAGE INITRD "KERNEL CMDLINE" OUTDIR CPUS HVRR [TIMEOUT_S]
set -euo pipefail
elf=$1 vlbl=$2 bz=$3 initrd=$4 kcmd=$5 out=$6 cpus=$7 hvrr=$8 tmo=${9:-1500}
mkdir -p "$out"
for rec in stream off; do
    scripts/mkiso-vm.sh "$out/rec-$rec.iso" "$elf" \
        "guest=linux poweroff=1 cpus=$cpus record=$rec cmdline=$kcmd" - - \
        "$vlbl=vlbl" "$bz=bzImage" "$initrd=initrd"
done
boot() { # REC: the hv's 'host TSC T for E exits' of the guest run
    rm -f "$out/rec-$1.com2"
    HVRR_COM2=$out/rec-$1.com2 scripts/run-vm.sh "$out/rec-$1.iso" "$out/rec-$1.log" "$tmo" \
        >/dev/null 2>&1 || true
    grep -aq '^hvrr: RESULT PASS linux' "$out/rec-$1.log" || {
        echo "bench-linux-rec: cpus=$cpus record=$1 boot failed" >&2
        tr -d '\r' <"$out/rec-$1.log" | tail -20 >&2
        return 1
    }
    tr -d '\r' <"$out/rec-$1.log" | sed -n 's/^hvrr:   host TSC \([0-9]*\) for \([0-9]*\) exits.*/\1 \2/p' | head -1
}
read -r t_on e_on <<<"$(boot stream)"
read -r t_off e_off <<<"$(boot off)"
"$hvrr" capture -q "$out/rec-stream.com2" -o "$out/rec.hvt" >/dev/null
bytes=$(stat -c %s "$out/rec.hvt")
echo "bench-linux-rec: Linux test boot, cpus=$cpus, Bochs ips ${HVRR_BOCHS_IPS:-50000000}: emulated TSC ticks (instructions) of the guest run: recording off $t_off ($e_off exits), on $t_on ($e_on exits)"
awk -v a="$t_on" -v b="$t_off" -v c="$cpus" \
    'BEGIN { printf "bench-linux-rec: cpus=%s recording overhead %.2f %% of emulated instructions (goal <= 5 %%)\n", c, (a - b) * 100 / b }'
awk -v a="$bytes" -v e="$e_on" -v c="$cpus" \
    'BEGIN { printf "bench-linux-rec: cpus=%s trace %d bytes for %d exits: %.2f bytes per exit\n", c, a, e, a / e }'
