#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine (munged, slurmctld, slurmd for "localhost" with
# 2 CPUs), as root and without systemd, for tests/slurm.test.ts and for trying `crispr slurm`
# by hand. Idempotent: daemons already running are left alone; a second call only waits for the
# node to be ready.
#
#   tests/slurm/start-slurm.sh            start (or check) the cluster; prints `export SLURM_CONF=...`
#   tests/slurm/start-slurm.sh --stop     stop the daemons it started
#
# The configuration lives in $CRISPR_SLURM_DIR (default /tmp/crispr-slurm), never in /etc/slurm,
# so a machine's own SLURM set-up is not touched; clients find it through SLURM_CONF.
#
# Exit status: 0 ready; 77 cannot run here (not root, binaries missing: the reason is on stderr,
# the test skips with it); 1 a daemon failed to start (its log is printed).
# Debian 12: apt-get install -y slurm-wlm munge (munge's install creates /etc/munge/munge.key).
set -euo pipefail

DIR="${CRISPR_SLURM_DIR:-/tmp/crispr-slurm}"
# The daemons live in sbin, which a non-login root shell may not have on PATH.
export PATH="$PATH:/usr/sbin:/sbin"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

cannot() { echo "start-slurm: cannot run SLURM here: $*" >&2; exit 77; }

if [ "${1:-}" = "--stop" ]; then
  # Only the daemons whose pid files we wrote; munged is shared with anything else using munge.
  for f in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  exit 0
fi

[ "$(id -u)" = 0 ] || cannot "must be root (slurmd runs jobs as their users; SlurmUser=root), running as uid $(id -u)"
for b in munged munge unmunge slurmctld slurmd sbatch squeue scontrol sinfo runuser; do
  command -v "$b" >/dev/null 2>&1 || cannot "'$b' not found (apt-get install -y slurm-wlm munge)"
done
[ -f /etc/munge/munge.key ] || cannot "/etc/munge/munge.key missing (reinstall munge, or create it with mungekey)"

mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"

# --- munge: the authentication every SLURM message carries ---------------------------------
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
  # --force: a stale socket left by a killed munged would otherwise stop it.
  runuser -u munge -- munged --force
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || { echo "start-slurm: munged did not start" >&2; exit 1; }
fi

# --- slurm.conf: one node named localhost, one default partition --------------------------
# proctrack/linuxproc and task/none need no cgroups (containers often have none writable);
# config_overrides lets the node register with CPUs=2 on a machine that has another count;
# no accounting daemon (sacct is not used: the test polls squeue and scontrol), so finished
# jobs are kept in slurmctld for MinJobAge (2 hours) for scontrol to show: the first shard may
# finish long before the last.
cat >"$CONF.new" <<EOF
ClusterName=crispr
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=7200
KillWait=10
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
changed=0
if ! cmp -s "$CONF.new" "$CONF"; then mv "$CONF.new" "$CONF"; changed=1; else rm "$CONF.new"; fi

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

fail() {
  echo "start-slurm: $1 did not start; last lines of $2:" >&2
  tail -n 30 "$2" >&2 || true
  exit 1
}

# -D keeps each daemon in the foreground of its own background process (no systemd to
# supervise it); setsid detaches it from the caller's process group, so a test runner's exit
# does not take the cluster down with it.
if ! alive "$DIR/slurmctld.pid"; then
  # -c: forget the jobs of an earlier cluster (a test's state is not worth restoring).
  setsid slurmctld -D -c -f "$CONF" >>"$DIR/log/slurmctld.out" 2>&1 </dev/null &
  echo $! >"$DIR/slurmctld.pid"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q 'is UP' || fail slurmctld "$DIR/log/slurmctld.log"
# Daemons of an earlier call read the old file: have them read the new one.
if [ "$changed" = 1 ]; then scontrol reconfigure; fi

if ! alive "$DIR/slurmd.pid"; then
  # -N: this machine's hostname is not "localhost"; the node is.
  setsid slurmd -D -N localhost -f "$CONF" >>"$DIR/log/slurmd.out" 2>&1 </dev/null &
  echo $! >"$DIR/slurmd.pid"
fi
state=""
for _ in $(seq 150); do
  state="$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)"
  case "$state" in idle* | mixed* | allocated* | completing*) break ;; esac
  sleep 0.2
done
case "$state" in
  idle* | mixed* | allocated* | completing*) ;;
  down* | drain*)
    # A node marked down by an earlier run (e.g. slurmd killed) comes back by hand.
    scontrol update NodeName=localhost State=RESUME 2>/dev/null || true
    sleep 1
    state="$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)"
    case "$state" in idle* | mixed* | allocated* | completing*) ;; *) fail "slurmd (node state '$state')" "$DIR/log/slurmd.log" ;; esac
    ;;
  *) fail "slurmd (node state '$state')" "$DIR/log/slurmd.log" ;;
esac

echo "export SLURM_CONF=$CONF"
