#!/usr/bin/env bash
# The mutation check: plants known bugs, one at a time, in a copy of the
# sources and shows that the tests named for each one fail.
#
#   scripts/mutants.sh              # every mutation
#   scripts/mutants.sh NAME...      # only those whose name contains NAME
#   scripts/mutants.sh --list       # the list, without running anything
#
# .ci/run runs it (with MUTANT_TIMEOUT=120); run it by hand before a release
# too. Each mutation rebuilds the crate and the test binaries it names (a few
# seconds, incremental) and runs them with a time-out: the 8 mutations took
# 152 s with a cold target/mutants on 2 shared cores (about 40 s of that is
# building the dev-dependencies), 144 s warm. Keep new entries narrow: a
# mutation caught only by a time-out costs the whole time-out.
#
# How it works: the tracked and new (not ignored) files of the work tree are
# copied to target/mutants/tree; the work tree itself is never touched. Each
# mutation replaces exact text in one file of the copy (every search text must
# occur exactly once, so a mutation that no longer applies after a refactor is
# reported STALE instead of silently passing), runs its test command there
# with `timeout`, and restores the file (also on exit, by a trap). Builds use
# target/mutants/target, so the normal target dir stays warm. First the test
# commands run once unmutated (the baseline): they must pass, or the table
# would mean nothing.
#
# Result per mutation, with the tests that failed: "caught" (the tests
# failed), "caught (time-out)" (they hung until MUTANT_TIMEOUT seconds,
# default 300, or until the entry's own `timeout`: a hang is a failure too,
# but a watchdog that fails fast is better), "MISSED" (they passed: a test is
# blind to this bug), "STALE" (a search text is gone) or "BROKEN" (the
# mutated crate does not compile). Logs: target/mutants/mutant-N.log. Exit
# status 0 only if every mutation was caught.
#
# Adding a mutation: one `mutant` call below:
#   mutant NAME TEST-COMMAND FILE SEARCH REPLACE [FILE SEARCH REPLACE]...
# TEST-COMMAND runs in the copy with bash; keep it narrow (a few test files)
# so the run stays short. Use $'...' for text with newlines.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/mutants
TREE=$WORK/tree
export CARGO_TARGET_DIR=$WORK/target
TIMEOUT=${MUTANT_TIMEOUT:-300}

NAMES=()
COMMANDS=()
EDITS=() # per mutation: the edits, as NUL-free records "file\x1fsearch\x1freplace" joined by \x1e

mutant() {
    local name=$1 cmd=$2
    shift 2
    (($# % 3 == 0 && $# > 0)) || { echo "mutant '$name': edits come in threes" >&2; exit 2; }
    local edits=""
    while (($#)); do
        edits+="$1"$'\x1f'"$2"$'\x1f'"$3"$'\x1e'
        shift 3
    done
    NAMES+=("$name")
    COMMANDS+=("$cmd")
    EDITS+=("$edits")
}

# --------------------------------------------------------------------------
# The mutations. Classic bugs of a hand-off wait queue; later: one entry per
# defect fixed for issue 8 (provenance, data race, identity collision, RLock
# level race, panicking waker).
# A lost `Release` ordering is not here: native x86 tests cannot see it (loom
# and Miri can; they run in .ci/run).
# --------------------------------------------------------------------------

mutant "lost hand-off on cancel (Wait drop skips pass_on)" \
    "cargo test --test miri --test smoke" \
    src/lowlevel/wait.rs \
    'NOTIFIED => self.proto.pass_on(node.data()),' \
    'NOTIFIED => {}'

mutant "no wake after notify (WakeList::wake_all drops the wakers)" \
    "cargo test --test miri --test smoke" \
    src/lowlevel/queue.rs \
    $'if let Some(waker) = slot.take() {\n                waker.wake();' \
    $'if let Some(waker) = slot.take() {\n                drop(waker);'

mutant "wake under the lock (REvent wakes before unlocking)" \
    "cargo test --test revent" \
    src/revent.rs \
    $'drop(guard);\n            wakers.wake_all();\n            if !more {' \
    $'wakers.wake_all();\n            drop(guard);\n            if !more {'

mutant "Event::set wakes one batch only" \
    "cargo test --test event_cross_world" \
    src/event.rs \
    'let more = !guard.is_empty();' \
    'let more = false;'

mutant "dropped item (queue Get drop loses a handed item)" \
    "cargo test --test miri --test queue" \
    src/queue/futures.rs \
    'self.queue.restore(item);' \
    'drop(item);'

mutant "lock re-entry check removed" \
    "cargo test --no-run --test smoke && timeout 30 cargo test --test smoke" \
    src/lock.rs \
    'if user & LOCKED != 0 && (user >> 1) as u32 == me {' \
    'if false {'

mutant "semaphore release pools permits instead of handing them to the front waiter" \
    "cargo test --test miri --test fairness" \
    src/semaphore.rs \
    'while n > 0 && !wakers.is_full() {' \
    'while false && n > 0 && !wakers.is_full() {' \
    src/semaphore.rs \
    'if n > 0 && guard.is_empty() {' \
    'if n > 0 {'

mutant "condition: a dropped notified waiter loses the notification" \
    "cargo test --test miri" \
    src/condition.rs \
    $'lock.pass_on(node.data());\n                self.cond.notify(1);' \
    $'lock.pass_on(node.data());'

# --------------------------------------------------------------------------

if [[ ${1:-} == --list ]]; then
    printf '%s\n' "${NAMES[@]}"
    exit 0
fi
SELECTED=()
for i in "${!NAMES[@]}"; do
    if (($# == 0)); then
        SELECTED+=("$i")
    else
        for pattern in "$@"; do
            [[ ${NAMES[$i]} == *"$pattern"* ]] && { SELECTED+=("$i"); break; }
        done
    fi
done
((${#SELECTED[@]})) || { echo "no mutation matches: $*" >&2; exit 2; }

# A fresh copy of the work tree as it stands (uncommitted edits included).
rm -rf "$TREE"
mkdir -p "$TREE"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xmf - -C "$TREE" # -m: fresh mtimes, so cargo rebuilds what an earlier run left mutated
cp -p Cargo.lock "$TREE/" 2>/dev/null || true

# Restores every file a mutation touched; runs after each one and on exit.
TOUCHED=()
restore() {
    local f
    for f in "${TOUCHED[@]}"; do
        cp "$ROOT/$f" "$TREE/$f"
    done
    TOUCHED=()
}
trap restore EXIT
trap 'exit 130' INT TERM

# Applies one mutation's edits to the copy; fails (STALE) if a search text
# does not occur exactly once.
apply() {
    local edits=$1 record file search replace
    while IFS= read -r -d $'\x1e' record; do
        file=${record%%$'\x1f'*}
        record=${record#*$'\x1f'}
        search=${record%%$'\x1f'*}
        replace=${record#*$'\x1f'}
        TOUCHED+=("$file")
        SEARCH=$search REPLACE=$replace python3 - "$TREE/$file" <<'PY' || return 1
import os, sys
path = sys.argv[1]
text = open(path).read()
search, replace = os.environ["SEARCH"], os.environ["REPLACE"]
count = text.count(search)
if count != 1:
    print(f"  search text occurs {count} times in {path}: {search!r}", file=sys.stderr)
    sys.exit(1)
open(path, "w").write(text.replace(search, replace))
PY
    done <<<"$edits"
}

# Runs a test command in the copy; its output goes to $LOG.
run() { (cd "$TREE" && timeout "$TIMEOUT" bash -c "$1") >"$LOG" 2>&1; }

# The tests a failed run names (libtest's FAILED lines, the watchdog's).
failed_tests() {
    {
        grep -oE '^test [^ ]+ \.\.\. FAILED' "$LOG" | cut -d' ' -f2
        grep -oE '^watchdog: [^ ]+' "$LOG" | cut -d' ' -f2
        grep -oE '^test [^ ]+ has been running for over' "$LOG" | cut -d' ' -f2
        grep -q 'SIGABRT' "$LOG" && echo "(an abort: a watchdog?)"
    } | awk '!seen[$0]++' | head -3 | paste -sd' ' - || true
}

START=$SECONDS
echo "==> baseline (unmutated copy)"
declare -A BASELINE=()
for i in "${SELECTED[@]}"; do
    cmd=${COMMANDS[$i]}
    [[ -n ${BASELINE[$cmd]:-} ]] && continue
    t=$SECONDS
    LOG=$WORK/baseline.log
    if ! run "$cmd"; then
        tail -30 "$LOG"
        echo "baseline FAILED: $cmd (fix the tests first; log: $LOG)" >&2
        exit 1
    fi
    BASELINE[$cmd]=1
    echo "    ok  $((SECONDS - t))s  $cmd"
done

RESULTS=()
missed=0
for i in "${SELECTED[@]}"; do
    name=${NAMES[$i]}
    echo "==> $name"
    t=$SECONDS
    LOG=$WORK/mutant-$i.log
    by=""
    if ! apply "${EDITS[$i]}" 2>"$LOG"; then
        result=STALE
    elif ! (cd "$TREE" && cargo check -q --workspace --lib) >>"$LOG" 2>&1; then
        result=BROKEN # the mutated crate does not compile: fix the entry
    else
        set +e
        run "${COMMANDS[$i]}"
        rc=$?
        set -e
        case $rc in
            0) result=MISSED ;;
            124) result="caught (time-out)" ;;
            *) result=caught ;;
        esac
        by=$(failed_tests)
    fi
    restore
    case $result in caught*) ;; *) missed=$((missed + 1)) ;; esac
    RESULTS+=("$(printf '%-18s %5ss  %s%s' "$result" "$((SECONDS - t))" "$name" "${by:+  [by: $by]}")")
    echo "    $result${by:+ by: $by} (log: $LOG)"
done

echo
echo "mutation check: ${#SELECTED[@]} mutations in $((SECONDS - START))s"
printf '%-20s %6s  %s\n' result time mutation
printf '%s\n' "${RESULTS[@]}"
exit $((missed > 0))
