#!/usr/bin/env bash
# Runs every loom model (tests/loom*.rs), one model per process, as many at
# a time as there are cores, the longest known ones first.
#
#   scripts/loom.sh                 # every model
#   scripts/loom.sh rwlock notify   # the models whose binary or name contains a word
#
# Why not `cargo test --test 'loom*'`: cargo runs the test binaries one
# after another, and a binary's models share its two test threads, so a
# binary whose time is one long model leaves a core idle while it runs (the
# five longest models are about 60% of the total). One model per process,
# scheduled across the cores, keeps both busy (measured one model at a
# time: 581 CPU-seconds in all; cargo's schedule about 450 s on 2 cores,
# this one about 290 s).
#
# Release build with debug assertions (the wait queue's debug_assert!s are
# checks too), into target/loom. LOOM_MAX_PREEMPTIONS defaults to 2, as
# in CI; LOOM_JOBS overrides the number of parallel models. Each model
# prints one line (its time and name); a failing model prints its whole
# output, and the script exits non-zero after the others finish.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg polysync_loom"
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2}
JOBS=${LOOM_JOBS:-$(nproc)}
LOGS=target/loom/logs
mkdir -p "$LOGS"

# The models that took over 30 s in CI's run (2 cores), started first so
# that none of them is left alone at the end. A name that no longer exists
# is simply not found; the rest run after these, in any order.
LONGEST=(
    loom::lock_cancelled_handoff_reaches_next_waiter
    loom_condition::cancelled_waiter_passes_notification_on
    loom_lock_fairness::bounded_woken_front_cancelled_while_a_barger_holds
    loom_rwlock::write_release_vs_two_readers
    loom_rwlock::handed_writer_dropped_passes_to_reader
    loom_notify::
)

echo "--- building the loom models"
mapfile -t BINARIES < <(
    cargo test --release --test 'loom*' --target-dir target/loom --no-run \
        --message-format=json-render-diagnostics |
        python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
            and msg["target"]["kind"] == ["test"]:
        print(msg["target"]["name"] + " " + msg["executable"])
'
)

# "binary-name path model" per model, the longest known first.
models=()
for entry in "${BINARIES[@]}"; do
    name=${entry%% *}
    path=${entry#* }
    while read -r model; do
        models+=("$name $path $model")
    done < <("$path" --list 2>/dev/null | sed -n 's/: test$//p')
done
ordered=()
for hint in "${LONGEST[@]}"; do
    for i in "${!models[@]}"; do
        read -r name _ model <<<"${models[$i]}"
        if [[ "$name::$model" == "$hint"* ]]; then
            ordered+=("${models[$i]}")
            unset 'models[i]'
        fi
    done
done
ordered+=("${models[@]}")

if (($#)); then
    selected=()
    for entry in "${ordered[@]}"; do
        read -r name _ model <<<"$entry"
        for word in "$@"; do
            [[ "$name::$model" == *"$word"* ]] && { selected+=("$entry"); break; }
        done
    done
    ordered=("${selected[@]}")
fi

run_model() {
    local name=$1 path=$2 model=$3
    local log="$LOGS/$name--${model//::/-}.log"
    local start=$SECONDS
    if "$path" --exact "$model" --test-threads 1 >"$log" 2>&1; then
        printf 'ok     %4ss  %s::%s\n' "$((SECONDS - start))" "$name" "$model"
    else
        printf 'FAILED %4ss  %s::%s\n' "$((SECONDS - start))" "$name" "$model"
        cat "$log"
        return 1
    fi
}
export -f run_model
export LOGS

echo "--- ${#ordered[@]} models, $JOBS at a time, LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS"
start=$SECONDS
status=0
printf '%s\n' "${ordered[@]}" |
    xargs -P "$JOBS" -L 1 bash -c 'run_model "$@"' _ || status=$?
if ((status == 0)); then
    echo "--- loom: all ${#ordered[@]} models passed in $((SECONDS - start))s"
else
    echo "--- loom: a model FAILED (see above)"
    exit 1
fi
