#!/usr/bin/env bash
# capture-fixtures.sh - run real jobs on the local cluster (slurm-up.sh) and store the
# verbatim output of sbatch, squeue, sacct and scancel as parser fixtures.
#
#   bash scripts/slurm/capture-fixtures.sh [OUT_DIR]   (default current/tests/fixtures/slurm)
#
# Every capture NAME is stored as NAME.stdout (byte-exact), NAME.stderr (byte-exact, only
# when not empty) and NAME.meta (the exact command, its exit code, the Slurm version, the
# cluster's mode and a note). Job ids differ from run to run: a recapture means updating
# the expectations of current/tests/it/long_running/slurm_parse.rs.
#
# Takes about 2.5 minutes (it waits for a --time=1 job to end TIMEOUT). The OOM job ends
# OUT_OF_MEMORY only with SLURM_UP_CGROUP=1 (cgroup v1); without it it completes.
# CAPTURE_PREFIX (default "fx") prefixes the capture names (e.g. "dbd" for a second run
# in SLURM_UP_ACCOUNTING=dbd mode, which adds the plain-sacct captures); CAPTURE_ONLY (an
# extended regex, default: all) stores only the captures whose names match (the commands
# still run). CAPTURE_CONTROLLER_DOWN=1 also captures what sbatch, squeue, scancel and
# sacct say while slurmctld is stopped (then restarts it with slurm-up.sh, in the default
# mode: pass the same SLURM_UP_* variables as for the cluster).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-current/tests/fixtures/slurm}
P=${CAPTURE_PREFIX:-fx}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

ver=$(sinfo --version | awk '{print $2}')
cfg=$(scontrol show config)
acct=$(awk -F' *= *' '/^AccountingStorageType/{print $2}' <<<"$cfg")
proctrack=$(awk -F' *= *' '/^ProctrackType/{print $2}' <<<"$cfg")
minage=$(awk -F' *= *' '/^MinJobAge/{print $2}' <<<"$cfg")
work=$(mktemp -d /tmp/slurm-fixtures.XXXXXX)
log() { echo "capture: $*" >&2; }

# cap NAME NOTE CMD... : run CMD, store its stdout/stderr/exit code under NAME
cap() {
    local name=$P-$1 note=$2 rc
    shift 2
    "$@" >"$work/$name.stdout" 2>"$work/$name.stderr"
    rc=$?
    [[ "$name" =~ ${CAPTURE_ONLY:-.} ]] || return 0
    cp "$work/$name.stdout" "$OUT/$name.stdout"
    if [ -s "$work/$name.stderr" ]; then cp "$work/$name.stderr" "$OUT/$name.stderr"; else rm -f "$OUT/$name.stderr"; fi
    {
        printf 'command: %s\n' "$(printf '%q ' "$@" | sed 's/ $//')"
        printf 'exit: %s\n' "$rc"
        printf 'slurm: %s\n' "$ver"
        printf 'cluster: single node, %s, %s, MinJobAge=%s\n' "$acct" "$proctrack" "$minage"
        printf 'captured: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf 'note: %s\n' "$note"
    } >"$OUT/$name.meta"
    log "$name: exit $rc, $(wc -l <"$OUT/$name.stdout") stdout lines"
}

# script NAME BODY [SBATCH-OPTION...] : a batch script like the ones current renders
script() {
    local name=$1 body=$2 f=$work/$1.sh
    shift 2
    {
        echo '#!/bin/bash'
        echo "#SBATCH --job-name=\"current-$P-$name\""
        echo "#SBATCH --output=\"$work/$name.out\""
        echo "#SBATCH --error=\"$work/$name.err\""
        echo "#SBATCH --chdir=\"$work\""
        for o in "$@"; do echo "#SBATCH $o"; done
        echo "$body"
    } >"$f"
    echo "$f"
}
submit() { sbatch --parsable "$(script "$@")"; }
state() { squeue --noheader --states=all --jobs="$1" --Format=State: 2>/dev/null | head -1; }
wait_state() { # ID STATE SECONDS
    local _i
    for _i in $(seq 1 $(($3 * 5))); do [ "$(state "$1")" = "$2" ] && return 0; sleep 0.2; done
    log "job $1 not $2 after $3 s (is $(state "$1"))"; return 1
}

t0=$(date +%s)
start=$(date +%Y-%m-%dT%H:%M:%S)
# 1. the slow one first: TIMEOUT takes 60-95 s
timeout=$(submit timeout 'sleep 300' --time=1)
# 2. submission, captured
cap sbatch-ok "sbatch --parsable of a batch script with #SBATCH header lines" \
    sbatch --parsable "$(script ok 'echo ok; sleep 1')"
ok=$(tr -dc '0-9' <"$work/$P-sbatch-ok.stdout")
exit3=$(submit exit3 'echo failing; exit 3')
signal=$(submit signal 'kill -9 $$')
oom=$(submit oom "python3 -c 'import time; a = b\"x\" * (400 * 1024 * 1024); time.sleep(30)'" --mem=50M)
cancel=$(submit cancel 'sleep 300')
running=$(submit running 'sleep 600')
held=$(submit held 'true' --hold)
begin=$(submit begin 'true' --begin=now+1hour)
dep=$(submit dep 'true' --dependency=afterok:"$exit3")
# takes 50 of the 64 CPUs; then a job asking for 16 CPUs waits for resources
hog=$(submit hog 'sleep 600' --cpus-per-task=50)
wide=$(submit wide 'true' --cpus-per-task=16)
array=$(submit array 'sleep 1' --array=1-3)
arrayheld=$(submit arrayheld 'true' --array=1-4 --hold)
cap sbatch-too-much-memory "more memory than the node has: rejected at submission" \
    sbatch --parsable --mem=100000000 "$(script toomuch 'true')"
cap sbatch-bad-partition "an unknown partition: rejected at submission" \
    sbatch --parsable --partition=nosuch "$(script badpart 'true')"
log "submitted: timeout=$timeout ok=$ok exit3=$exit3 signal=$signal oom=$oom cancel=$cancel running=$running held=$held begin=$begin dep=$dep hog=$hog wide=$wide array=$array arrayheld=$arrayheld"

all="$timeout,$ok,$exit3,$signal,$oom,$cancel,$running,$held,$begin,$dep,$hog,$wide,$array,$arrayheld"
names=$(printf "current-$P-%s," timeout ok exit3 signal oom cancel running held begin dep hog wide array arrayheld)
names=${names%,}
FMT='JobID:|,State:|,Reason:|,exit_code:|,NodeList:|,Name:'

cap squeue-just-submitted "right after the submissions" \
    squeue --noheader --states=all --jobs="$all" --Format="$FMT"
wait_state "$cancel" RUNNING 30
wait_state "$running" RUNNING 30
scancel "$cancel"
wait_state "$cancel" CANCELLED 30
wait_state "$oom" OUT_OF_MEMORY 40 || wait_state "$oom" COMPLETED 40
sleep 3
cap squeue-by-id "batched squeue by job ids, finished and live jobs mixed (array ids: %i form is not used, JobID is per element)" \
    squeue --noheader --states=all --jobs="$all" --Format="$FMT"
cap squeue-by-name "batched squeue by job names" \
    squeue --noheader --states=all --name="$names" --Format="$FMT"
cap squeue-compact "squeue's short state codes" \
    squeue --noheader --states=all --jobs="$all" --Format='JobID:|,StateCompact:|,Reason:|,exit_code:|,NodeList:|,Name:'
cap squeue-percent-format "squeue -o with %i (array ids as base_index)" \
    squeue --noheader --states=all --jobs="$all" --format='%i|%T|%r|%N|%j'
cap squeue-unknown-id "one unknown job id: squeue fails" \
    squeue --noheader --states=all --jobs=999999 --Format="$FMT"
cap squeue-unknown-ids "several unknown job ids: squeue succeeds with no line" \
    squeue --noheader --states=all --jobs=999998,999999 --Format="$FMT"
cap squeue-some-unknown "known and unknown job ids mixed" \
    squeue --noheader --states=all --jobs="$ok,$exit3,999999" --Format="$FMT"
cap squeue-unknown-name "an unknown job name" \
    squeue --noheader --states=all --name=current-no-such-job --Format="$FMT"

wait_state "$timeout" TIMEOUT 150
cap squeue-timeout "a --time=1 job after its limit" \
    squeue --noheader --states=all --jobs="$timeout" --Format="$FMT"
cap scancel-unknown "scancel of an unknown id" scancel 999999
cap scancel-unknown-verbose "scancel -v of an unknown id" scancel --verbose 999999
cap scancel-finished "scancel of a finished job" scancel "$ok"
cap scancel-finished-verbose "scancel -v of a finished job" scancel --verbose "$ok"
cap scancel-batch "scancel of live, finished and unknown ids at once" \
    scancel "$running" "$held" "$begin" "$dep" "$hog" "$wide" "$arrayheld" "$ok" 999999
for j in "$running" "$held" "$begin" "$dep" "$hog" "$wide"; do wait_state "$j" CANCELLED 30; done
sleep 2
cap squeue-final "every job over" \
    squeue --noheader --states=all --jobs="$all" --Format="$FMT"
cap sacct-c-by-id "finished jobs from the job completion log (jobcomp/filetxt)" \
    sacct --completion --noheader --parsable2 --allocations --starttime="$start" --jobs="$all" \
    --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
cap sacct-c-by-name "the job completion log by names" \
    sacct --completion --noheader --parsable2 --allocations --starttime="$start" --name="$names" \
    --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
cap sacct-c-jobid "JobID (array form) next to JobIDRaw in the job completion log" \
    sacct --completion --noheader --parsable2 --starttime="$start" --jobs="$all" \
    --format=JobID,JobIDRaw,State,ExitCode,JobName
cap sacct-c-unknown "the job completion log asked for an unknown id" \
    sacct --completion --noheader --parsable2 --allocations --starttime="$start" --jobs=999999 \
    --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
if [ "$acct" = accounting_storage/slurmdbd ]; then
    cap sacct-right-after "slurmdbd right after the last jobs ended (records may lag)" \
        sacct --noheader --parsable2 --allocations --starttime="$start" --jobs="$all" \
        --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
    sleep 5
    cap sacct-by-id "finished jobs from slurmdbd, allocations only" \
        sacct --noheader --parsable2 --allocations --starttime="$start" --jobs="$all" \
        --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
    cap sacct-by-name "slurmdbd by job names" \
        sacct --noheader --parsable2 --allocations --starttime="$start" --name="$names" \
        --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
    cap sacct-steps "slurmdbd with job steps (no --allocations)" \
        sacct --noheader --parsable2 --starttime="$start" --jobs="$all" \
        --format=JobIDRaw,JobID,State,ExitCode,Reason,NodeList,JobName
    cap sacct-truncated "sacct without --parsable2: fixed-width, truncated states (CANCELLED+)" \
        sacct --noheader --allocations --starttime="$start" --jobs="$all" \
        --format=JobIDRaw,State,ExitCode,JobName
    cap sacct-unknown "slurmdbd asked for an unknown id" \
        sacct --noheader --parsable2 --allocations --starttime="$start" --jobs=999999 \
        --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
else
    cap sacct-disabled "plain sacct without slurmdbd" \
        sacct --noheader --parsable2 --allocations --starttime="$start" --jobs="$ok" \
        --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
fi
if [ "${CAPTURE_CONTROLLER_DOWN:-0}" = 1 ]; then
    # what the commands say while the controller is down: stop our slurmctld (the one
    # slurm-up.sh started), capture, and bring it back with slurm-up.sh
    ctld=$(tr -dc '0-9' </run/slurm-local/slurmctld.pid)
    [ "$(cat "/proc/$ctld/comm" 2>/dev/null)" = slurmctld ] || { log "no slurmctld of ours"; exit 1; }
    kill -TERM "$ctld"
    for _ in $(seq 1 100); do [ -d "/proc/$ctld" ] || break; sleep 0.1; done
    cap sbatch-controller-down "sbatch while slurmctld is stopped" \
        timeout 120 sbatch --parsable "$(script down 'true')"
    cap squeue-controller-down "squeue while slurmctld is stopped" \
        timeout 120 squeue --noheader --states=all --jobs="$ok,$exit3" --Format="$FMT"
    cap scancel-controller-down "scancel while slurmctld is stopped" timeout 120 scancel "$ok"
    cap sacct-c-controller-down "sacct --completion while slurmctld is stopped (it reads a file)" \
        timeout 120 sacct --completion --noheader --parsable2 --allocations --starttime="$start" \
        --jobs="$ok,$exit3" --format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName
    bash scripts/slurm/slurm-up.sh >&2
fi
log "done in $(( $(date +%s) - t0 )) s; job outputs in $work"
