# Interactive part: a shell on the console (ttyS0) with job control.
echo "hvrr guest: busybox shell on the console; 'poweroff -f' to stop"
while :; do
    setsid cttyhack sh -l
    echo "hvrr guest: shell exited, starting a new one"
done
