# Input and reboot check (make e2e-linux-input): a shell on the console runs
# what is typed on the physical COM1 (the test types
# `echo typed-$((6*7))` and `exit`), then `reboot -f` must end the run
# through the 8042 reset pulse.
echo "HVRR-INPUT-READY"
setsid cttyhack sh
echo "HVRR-REBOOTING"
reboot -f
