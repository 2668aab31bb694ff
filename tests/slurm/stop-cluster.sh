#!/usr/bin/env bash
# Stop the one-node SLURM cluster started by tests/slurm/start-cluster.sh: cancel every job,
# then stop slurmd, slurmctld and munged (by their pid files; SIGTERM, then SIGKILL after 10 s).
# Safe to run when nothing is running. Leaves packages, slurm.conf and the munge key in place.
set -uo pipefail
export PATH="/usr/sbin:/sbin:$PATH"  # the daemons live in sbin

[ "$(id -u)" -eq 0 ] || { echo "stop-cluster: must run as root" >&2; exit 1; }

T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[stop-cluster %5ss] %s\n' "$(elapsed)" "$*"; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() { # stop_pidfile PIDFILE NAME
    local pid
    if ! alive "$1"; then
        rm -f "$1"
        log "$2 not running"
        return 0
    fi
    pid=$(cat "$1")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "$2 ($pid) ignored SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
    log "$2 stopped"
}

# cancel all jobs while the controller can still signal them
if [ -s /run/slurmctld.pid ] && command -v squeue >/dev/null 2>&1 \
    && alive /run/slurmctld.pid; then
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
        log "cancelling jobs: $(echo "$jobs" | tr '\n' ' ')"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -z "$(squeue -h -t PD,R,CG -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
fi

stop_pidfile /run/slurmd.pid slurmd
stop_pidfile /run/slurmctld.pid slurmctld
stop_pidfile /run/munge/munged.pid munged
log "done"
