#!/bin/bash
# A one-node Slurm cluster for tests, all of it in one folder (Debian's slurm-wlm and munge):
#   tools/slurm-test-cluster.sh start DIR   munged, slurmctld and slurmd on this host; prints the
#                                          line SLURM_CONF=DIR/slurm.conf to use with sbatch etc.
#   tools/slurm-test-cluster.sh stop DIR    stops the three daemons started in DIR
# Needs root (the daemons run as root here). Ports are picked at random in 20000-29999.
set -euo pipefail
command=${1:?start or stop}
dir=$(realpath -m "${2:?folder}")

stop() {
  for pid_file in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [ -s "$pid_file" ]; then
      pid=$(cat "$pid_file")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pid_file"
    fi
  done
}

case $command in
start)
  # The daemons must not keep the caller's descriptors open (a caller waiting for this script's
  # pipes or for its exit through an inherited descriptor would wait for ever).
  for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
  for program in munged slurmctld slurmd sbatch; do
    command -v "$program" >/dev/null || { echo "$program: not installed (apt packages slurm-wlm and munge)" >&2; exit 2; }
  done
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  exec </dev/null
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"

  host=$(hostname -s)
  # The node as slurmd sees this machine (CPUs, sockets, cores, memory), so it is not drained.
  node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
  port=$((20000 + RANDOM % 5000 * 2))
  cat > "$dir/slurm.conf" <<EOF
ClusterName=calstest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=1
MinJobAge=300
$node State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$dir/slurm.conf"
  slurmd -f "$dir/slurm.conf"
  for _ in $(seq 100); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    if [ "$state" = idle ]; then echo "SLURM_CONF=$SLURM_CONF"; exit 0; fi
    sleep 0.2
  done
  echo "the test cluster did not become idle (state '$state'); logs in $dir/log:" >&2
  tail -n 5 "$dir"/log/*.log >&2 || true
  stop
  exit 1
  ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
