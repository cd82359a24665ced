#!/usr/bin/env bash
# Check the COM1 log of a Linux boot under hvrr (make e2e-linux,
# e2e-linux-input). Prints the evidence lines; fails on the first missing one.
#   tests/e2e/check-linux.sh test LOG     test initramfs: boot facts, poweroff
#   tests/e2e/check-linux.sh apic LOG     the same with apic=1: IO-APIC lines for
#                                         the timer and ttyS0, LOC counts, ACPI
#                                         power-off
#   tests/e2e/check-linux.sh smp LOG N    the apic checks with cpus=N: N processors
#                                         brought up (smpboot, /proc/cpuinfo), LOC
#                                         and RES or CAL counts non-zero on each
#   tests/e2e/check-linux.sh input LOG    reboot initramfs: typed commands ran
#                                         (echo, hwclock -r, sleep, /proc/interrupts
#                                         with IRQ0 and IRQ4 counts), `reboot -f`
#                                         reset the VM
set -euo pipefail
kind=$1 log=$2 ncpu=${3:-1}
[ -s "$log" ] || { echo "check-linux: $log missing or empty"; exit 1; }
txt=$(tr -d '\r' <"$log")
fail=0
need() { # NAME ERE: a line matching ERE must be in the log
    local m
    if m=$(grep -a -m1 -E -- "$2" <<<"$txt"); then
        printf '  ok   %-22s %s\n' "$1" "$m"
    else
        printf '  MISS %-22s /%s/\n' "$1" "$2"
        fail=1
    fi
}
never() { # NAME ERE: no line may match ERE
    local m
    if m=$(grep -a -m1 -E -- "$2" <<<"$txt"); then
        printf '  BAD  %-22s %s\n' "$1" "$m"
        fail=1
    fi
}
never panic 'Kernel panic'
# A guest process killed by a fault means the platform corrupted its state.
never user-fault 'segfault at|general protection fault|traps: .* trap'
never hv-failure '^hvrr: RESULT FAIL (hypervisor|VMX|linux guest could not)'
# /proc/interrupts: one count column per CPU; every count / a non-zero one.
cols="( +[0-9]+){$ncpu}"
nz=" +[1-9][0-9]*"
nzcols=$(for ((i = 0; i < ncpu; i++)); do printf '%s' "$nz"; done)
case "$kind" in
smp)
    # arch/x86/kernel/smpboot.c: the BSP sends INIT/SIPI/SIPI to each AP
    # the MADT lists; every one that calls in is counted.
    need smp-madt "smpboot: Allowing $ncpu CPUs, 0 hotplug CPUs"
    need smp-activated "smpboot: Total of $ncpu processors activated"
    need smp-cpuinfo "^HVRR-CPUS $ncpu\$"
    never smp-ap-failed 'CPU[0-9]+ failed to (boot|report)|do_boot_cpu failed'
    need loc-each-cpu "^ *LOC:$nzcols +Local timer interrupts"
    rescal=$(grep -a -E "^ *(RES|CAL):$nzcols " <<<"$txt" | head -1 || true)
    if [ -n "$rescal" ]; then
        printf '  ok   %-22s %s\n' res-or-cal-each-cpu "$rescal"
    else
        printf '  MISS %-22s %s\n' res-or-cal-each-cpu "no RES: or CAL: line non-zero on all $ncpu CPUs"
        fail=1
    fi
    ;;&
test | apic | smp)
    need guest-ready '^HVRR-GUEST-READY'
    need 16550A '^\[ *[0-9.]+\] serial8250: ttyS0 at I/O 0x3f8 \(irq = 4, base_baud = 115200\) is a 16550A$'
    if [ "$kind" = test ]; then
        need pci-host-bridge 'PCI host bridge to bus 0000:00'
    else
        # hv/acpi.c's DSDT has no PCI root bridge: Linux only probes the
        # configuration mechanism (no bus scan with ACPI on).
        need pci-conf1 'PCI: Using configuration type 1 for base access'
    fi
    # Linux 6.1 (arch/x86/kernel/tsc.c): quick_pit_calibrate() prints the
    # first, the slow pit_calibrate_tsc() path the second; either one means
    # the TSC was measured against the (virtual) PIT, not taken from CPUID
    # (the hv reads CPUID 0x15/0x16 as zeros unless tscleaves=1). Then the
    # TSC must stay the clocksource (no "unstable": guest time stands still
    # during exits). HVRR_STRICT_TSC=0 (runs with tscleaves=1) only notes.
    pit='tsc: (Fast TSC calibration using PIT|PIT calibration matches)'
    if [ "${HVRR_STRICT_TSC:-1}" = 1 ]; then
        need tsc-pit-calibration "$pit"
        never tsc-unstable 'tsc: Marking TSC unstable'
        need clocksource-tsc 'clocksource: Switched to clocksource tsc$'
    else
        grep -aqE "$pit" <<<"$txt" ||
            printf '  note %-22s %s\n' tsc-source "no guest PIT calibration line (frequency from CPUID 0x15/0x16)"
        m=$(grep -a -m1 -E 'tsc: Marking TSC unstable|clocksource: Switched to clocksource tsc$' <<<"$txt" || true)
        printf '  note %-22s %s\n' tsc-clocksource "${m:-neither TSC clocksource nor unstable line}"
    fi
    need tsc-detected 'tsc: Detected [0-9]+\.[0-9]+ MHz (processor|TSC)'
    if [ "$kind" = test ]; then
        # /proc/interrupts, printed by the test init: IRQ0 counted on the PIC.
        need irq0-timer '(^|[^0-9])0: +[1-9][0-9]* +XT-PIC +timer'
    else
        # apic=1: the MADT's ISA override routes IRQ0 to pin 2; the PIT
        # ticks until the local APIC timer (calibrated against it) takes
        # over as clock event device, which LOC: counts.
        need apic-madt 'IOAPIC\[0\]: apic_id [0-9]+, version [0-9]+, address 0xfec00000, GSI 0-23'
        need apic-timer-pin '\.\.TIMER: vector=0x[0-9a-f]+ apic1=0 pin1=2 '
        need irq0-ioapic "^ *0:$cols +IO-APIC +2-edge +timer"
        never irq0-none "^ *0:( +0){$ncpu} +IO-APIC"
        need irq4-ioapic "^ *4:$cols +IO-APIC +4-edge +ttyS0"
        need loc-count '^ *LOC:( +[0-9]+)* +[1-9][0-9]*( +[0-9]+)* +Local timer interrupts'
        never xt-pic ' XT-PIC '
    fi
    need test-done '^HVRR-TEST-DONE'
    # The guest RTC starts at the machine's date (hv rtc=host): the guest's
    # clock must be within a day of the host's now.
    gd=$(sed -n 's/^HVRR-DATE \([0-9][0-9]*\)$/\1/p' <<<"$txt" | head -1)
    if [ -n "$gd" ] && [ $(( gd > $(date -u +%s) ? gd - $(date -u +%s) : $(date -u +%s) - gd )) -lt 86400 ]; then
        printf '  ok   %-22s %s\n' guest-date "guest clock $(date -u -d @"$gd" '+%F %T') UTC"
    else
        printf '  BAD  %-22s %s\n' guest-date "guest clock '${gd:-none}' not within a day of the host's"
        fail=1
    fi
    if [ "$kind" = test ]; then
        # poweroff -f ends in HLT with IF=0: the guest must have got there itself.
        need guest-halted 'reboot: System halted'
    else
        # With the FADT's PM1a control block Linux powers off through \_S5.
        need guest-power-down 'reboot: Power down'
    fi
    need hv-result '^hvrr: RESULT PASS linux poweroff'
    ;;
input)
    need guest-ready '^HVRR-GUEST-READY'
    need input-ready '^HVRR-INPUT-READY'
    # The echoed input holds the unexpanded text; only the shell prints 42.
    need typed-command 'typed-42'
    # Typed-ahead input is echoed into the output lines: match unanchored.
    need hwclock '[A-Z][a-z]{2} [A-Z][a-z]{2} +[0-9]+ [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4} +-?[0-9.]+ seconds'
    need sleep 'slept-5'
    need irq0-timer '(^|[^0-9])0: +[1-9][0-9]* +XT-PIC +timer'
    need irq4-serial '(^|[^0-9])4: +[1-9][0-9]* +XT-PIC +(serial|ttyS0)'
    need shell-exited '^HVRR-REBOOTING'
    need guest-restart 'reboot: Restarting system'
    need hv-reset '^hvrr: linux guest ended by reset'
    need hv-result '^hvrr: RESULT PASS linux reset'
    ;;
*) echo "check-linux: unknown kind $kind"; exit 2 ;;
esac
if [ $fail = 0 ]; then echo "check-linux: $kind PASS ($log)"; else echo "check-linux: $kind FAIL ($log)"; fi
exit $fail
