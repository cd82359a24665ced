# CI part: print a few facts about the platform, then power off.
echo "HVRR-TEST-BEGIN"
uname -a
echo "HVRR-DATE $(date -u +%s)"
echo "HVRR-CPUS $(grep -c '^processor' /proc/cpuinfo)"
cat /proc/interrupts
dmesg | grep -E 'ttyS0|PCI|clocksource|tsc'
sleep 1
echo "HVRR-TEST-DONE"
poweroff -f
