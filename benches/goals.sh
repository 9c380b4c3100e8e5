#!/bin/sh
# Issue 18's goal rows in one run, each contended group beside the wake-up
# cost (park/unpark round trip) measured in the same run, so a reader sees
# which state the VM was in (about 7 us: cheap wake-ups; 30-50 us: dear).
#
#   benches/goals.sh [DIR]     results in DIR (default target/goals), then
#                              a markdown report on stdout
#
# Extra criterion options can be given in GOALS_OPTS (default: 1 s warm-up,
# 3 s measurement). About 8 minutes on the 2-core VM.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-target/goals}
opts=${GOALS_OPTS:---warm-up-time 1 --measurement-time 3}
rm -rf "$dir"
mkdir -p "$dir"
run() {
    bench=$1
    shift
    # One criterion directory per bench binary: each measures its own
    # park/unpark round trip, which would overwrite the others' otherwise.
    # shellcheck disable=SC2086 # $opts is a list of options
    CRITERION_HOME="$PWD/$dir/$bench" cargo bench -q -p polysync-benches --bench "$bench" -- "$@" $opts >&2
    echo "## benches/$bench.rs"
    echo
    python3 benches/report.py --criterion-dir "$dir/$bench"
}
run lock '^(park_roundtrip|lock_contended_threads|lock_tasks_64)/'
run lock_may '^(park_roundtrip|lock_may_64)/'
run rlock '^(rlock_reentry|park_roundtrip)/'
run rwlock '^(rwlock_read_heavy_threads|park_roundtrip)/'
run queue '^queue/(spsc_threads_blocking|spsc_tokio_async|mpmc_2x2_mixed)/'
run channel '^(park_roundtrip|channel/spsc_tokio_async)/'
