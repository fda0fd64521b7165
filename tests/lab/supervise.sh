#!/usr/bin/env bash
# supervise.sh NAME ROOTDIR STOPFILE PIDFILE
# Boot a systemd container and boot it again when it reboots: systemd-nspawn exits 133 when the
# guest asks for a reboot. `lab down` creates STOPFILE first, so a reboot in progress ends here.
name=$1 root=$2 stopfile=$3 pidfile=$4
while :; do
  systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --resolv-conf=off \
    --timezone=off -D "$root" -M "$name" -b </dev/null &
  echo $! >"$pidfile"
  wait $!
  rc=$?
  echo "$(date +%T) $name: systemd-nspawn exited rc=$rc"
  if [ "$rc" != 133 ] || [ -e "$stopfile" ]; then
    break
  fi
done
rm -f "$pidfile"
