#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the SLURM integration test (test/runner-slurm.test.ts).
# Recipe: docs/runner.md 7.1 (Debian bookworm, root, no systemd, no accounting DB).
# MaxArraySize=5 forces seqlab's array splitting. Idempotent: a running cluster is left alone.
# Exit 0 only when `sinfo` shows the node idle; the test skips (and says so) otherwise.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
S=${SEQLAB_SLURM_DIR:-/tmp/slurm}

if [ "$(id -u)" != 0 ]; then echo "slurm-setup: needs root" >&2; exit 1; fi
if command -v sinfo >/dev/null 2>&1 && sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then
  echo "slurm-setup: cluster already up"; sinfo; exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: the package usually creates the key; create it if not.
[ -f /etc/munge/munge.key ] || mungekey -c
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  su -s /bin/sh munge -c /usr/sbin/munged
  for i in $(seq 10); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
fi
munge -n | unmunge | grep -q Success

# slurm: NodeName must be the short host name; RealMemory at most what `slurmd -C` reports.
mkdir -p "$S/spool" "$S/state" "$S/log" /etc/slurm
MEM=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
MEM=${MEM:-2000}
[ "$MEM" -gt 20000 ] && MEM=20000
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdSpoolDir=$S/spool
StateSaveLocation=$S/state
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
ReturnToService=2
KillWait=5
MinJobAge=600
MaxArraySize=5
NodeName=$(hostname -s) CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld
slurmd
for i in $(seq 30); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 1
done
if ! sinfo -h -o %T 2>/dev/null | grep -q idle; then
  echo "slurm-setup: node did not become idle" >&2
  tail -n 30 "$S/log/slurmctld.log" "$S/log/slurmd.log" >&2 || true
  exit 1
fi
sinfo
scontrol ping
