# Sourced by scripts/run-vm.sh and scripts/run-linux.sh: what the two share,
# written once.
#   kvm_nested                 true when QEMU+KVM can run the hypervisor (nested VMX)
#   bochs_config RC ISO COM1 WORK
#                              writes Bochs' configuration to RC: the CPU model
#                              and speed, RAM, the ISO as a CD-ROM, COM1 as given
#                              (a Bochs com1 `mode=..., dev=...` spec), COM2 and
#                              the log in WORK, no display or sound
# Environment: HVRR_MEM_MB (512), HVRR_BOCHS_IPS (50000000).

kvm_nested() {
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
    local n
    n=$(cat /sys/module/kvm_intel/parameters/nested 2>/dev/null) || return 1
    [ "$n" = Y ] || [ "$n" = 1 ]
}

bochs_config() {
    local rc=$1 iso=$2 com1=$3 work=$4
    cat >"$rc" <<RC
megs: ${HVRR_MEM_MB:-512}
romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
cpu: model=corei7_skylake_x, count=1, ips=${HVRR_BOCHS_IPS:-50000000}, reset_on_triple_fault=0
ata0-master: type=cdrom, path=$(realpath "$iso"), status=inserted
boot: cdrom
com1: enabled=1, $com1
com2: enabled=1, mode=file, dev=$work/com2.out
clock: sync=none, time0=1
display_library: rfb, options="timeout=0"
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
log: $work/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
RC
}
