#!/usr/bin/env python3
"""Prints criterion results of the polysync benches as markdown tables.

Reads target/criterion/<group>/<function>[/<parameter>]/new/{benchmark,estimates}.json
(standard library only) and prints, per group, one row per implementation:

- median ns/op: criterion's median point estimate of the time per iteration,
  divided by the group's `Throughput::Elements` when it has one (lock_tasks_64:
  one iteration = 64 000 operations; the threaded groups declare 1 element per
  iteration, i.e. one iteration already is one operation);
- spread: median absolute deviation as a % of the median;
- Mops/s: 1000 / (ns/op);
- anchor/polysync: the row's ns/op divided by polysync's. Above 1 means the
  anchor is slower than polysync (polysync is that many times faster);
- polysync/anchor: the inverse. Above 1 means polysync is slower.

The polysync baseline of a row is the `polysync` function with the same
parameter (thread count or method), else the group's first `polysync` row.

Usage: python3 benches/report.py [--criterion-dir DIR] [--group-prefix PREFIX]
       python3 benches/report.py --summary DIR1 DIR2 ... [--group-prefix PREFIX]
(--summary: one table per group over several runs, each DIR a copy of
target/criterion taken after one run: ns/op per run, their median, and
polysync/anchor from the medians with its per-run range.)
(default: $CARGO_TARGET_DIR/criterion, else target/criterion next to this
script's parent directory).
"""

import argparse
import json
import os
import sys

# Print groups in this order; any other group found is printed afterwards.
GROUP_ORDER = [
    "lock_uncontended_blocking",
    "lock_try",
    "lock_async_uncontended",
    "lock_contended_threads",
    "lock_mixed_threads_tasks",
    "lock_tasks_64",
    "lock_may_64",
    "semaphore_uncontended",
    "semaphore_contended",
    # benches/queue.rs
    "queue/spsc_threads_blocking",
    "queue/single_thread_send_try_recv",
    "queue/spsc_tokio_async",
    "queue/thread_to_task",
    "queue/roundtrip_thread_task",
    "queue/mpmc_2x2_mixed",
]

BASELINE = "polysync"

# Row order inside a group (unknown names go last, alphabetically).
FUNCTION_ORDER = ["polysync", "polysync_lock", "std", "parking_lot", "tokio", "async_lock"]
# Channel implementations of benches/queue.rs, after the ones above.
FUNCTION_ORDER += [
    "flume",
    "crossbeam",
    "std_mpsc",
    "async_channel",
    "kanal",
    "polysync_nospin",
    "polysync_threads",
    "polysync_spin_threads",
    "crossbeam_threads",
]
PARAM_ORDER = ["try_acquire", "acquire_blocking", "acquire_await"]


def default_dir():
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return os.path.join(target, "criterion")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "target", "criterion")


def load(criterion_dir):
    """Returns {group: [row, ...]} with row = dict(function, param, ns, spread)."""
    groups = {}
    for dirpath, dirnames, filenames in os.walk(criterion_dir):
        dirnames.sort()
        if os.path.basename(dirpath) != "new":
            continue
        if "benchmark.json" not in filenames or "estimates.json" not in filenames:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        per_iter = est["median"]["point_estimate"]
        mad = est["median_abs_dev"]["point_estimate"]
        elements = 1
        throughput = bench.get("throughput") or {}
        if "Elements" in throughput:
            elements = throughput["Elements"] or 1
        groups.setdefault(bench["group_id"], []).append(
            {
                "function": bench.get("function_id") or "",
                "param": bench.get("value_str") or "",
                "ns": per_iter / elements,
                "spread": 100.0 * mad / per_iter if per_iter else 0.0,
            }
        )
    return groups


def baseline_for(row, rows):
    same = [r for r in rows if r["function"] == BASELINE and r["param"] == row["param"]]
    if same:
        return same[0]
    any_ = [r for r in rows if r["function"] == BASELINE]
    return any_[0] if any_ else None


def fmt_ns(ns):
    if ns >= 100:
        return f"{ns:,.0f}"
    if ns >= 10:
        return f"{ns:.1f}"
    return f"{ns:.2f}"


def rank(name, order):
    return (order.index(name), "") if name in order else (len(order), name)


def sort_key(row):
    # Parameters first (thread counts numerically), then implementations.
    p = row["param"]
    pkey = (0, int(p), "") if p.isdigit() else (1,) + rank(p, PARAM_ORDER)
    return pkey, rank(row["function"], FUNCTION_ORDER)


def print_group(name, rows):
    rows = sorted(rows, key=sort_key)
    has_param = any(r["param"] for r in rows)
    print(f"### {name}\n")
    head = ["implementation"] + (["variant"] if has_param else []) + [
        "median ns/op",
        "spread (MAD)",
        "Mops/s",
        "anchor/polysync",
        "polysync/anchor",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + (["---"] if has_param else []) + ["---:"] * 5) + "|")
    for r in rows:
        base = baseline_for(r, rows)
        if r["function"] == BASELINE and base is r:
            a, b = "1.00 (baseline)", "1.00 (baseline)"
        elif base is None:
            a = b = "n/a"
        else:
            a = f"{r['ns'] / base['ns']:.2f}"
            b = f"{base['ns'] / r['ns']:.2f}"
        cells = [r["function"]] + ([r["param"]] if has_param else []) + [
            fmt_ns(r["ns"]),
            f"{r['spread']:.1f}%",
            f"{1000.0 / r['ns']:.2f}" if r["ns"] else "n/a",
            a,
            b,
        ]
        print("| " + " | ".join(cells) + " |")
    print()


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def print_summary(name, runs):
    """One table for `name` over several runs (list of row lists, one per run):
    each row's ns/op per run, the median over the runs, polysync/anchor from
    those medians, and the range of the per-run polysync/anchor ratios."""
    keys = []
    for rows in runs:
        for r in sorted(rows, key=sort_key):
            k = (r["function"], r["param"])
            if k not in keys:
                keys.append(k)
    keys.sort(key=lambda k: sort_key({"function": k[0], "param": k[1]}))
    has_param = any(p for _, p in keys)

    def ns_of(rows, func, param):
        for r in rows:
            if r["function"] == func and r["param"] == param:
                return r["ns"]
        return None

    def base_ns(rows, param):
        v = ns_of(rows, BASELINE, param)
        if v is None:
            v = next((r["ns"] for r in rows if r["function"] == BASELINE), None)
        return v

    print(f"### {name}\n")
    head = ["implementation"] + (["variant"] if has_param else []) + [
        "ns/op per run",
        "median of runs",
        "polysync/anchor (medians)",
        "polysync/anchor per run",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + (["---"] if has_param else []) + ["---", "---:", "---:", "---"]) + "|")
    for func, param in keys:
        per_run = [ns_of(rows, func, param) for rows in runs]
        got = [v for v in per_run if v is not None]
        if not got:
            continue
        med = median(got)
        bases = [base_ns(rows, param) for rows in runs]
        base_med = median([b for b in bases if b is not None]) if any(b is not None for b in bases) else None
        if func == BASELINE:
            ratio, spread = "1.00 (baseline)", ""
        elif base_med is None:
            ratio, spread = "n/a", ""
        else:
            ratio = f"{base_med / med:.2f}"
            rr = [b / v for b, v in zip(bases, per_run) if b is not None and v is not None]
            spread = f"{min(rr):.2f}–{max(rr):.2f}" if rr else ""
        cells = [func] + ([param] if has_param else []) + [
            ", ".join(fmt_ns(v) if v is not None else "–" for v in per_run),
            fmt_ns(med),
            ratio,
            spread,
        ]
        print("| " + " | ".join(cells) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--criterion-dir", default=default_dir())
    ap.add_argument(
        "--group-prefix",
        default="",
        help="print only the groups whose name starts with this (e.g. queue/)",
    )
    ap.add_argument(
        "--summary",
        nargs="+",
        metavar="DIR",
        help="several criterion directories (copies of target/criterion from "
        "repeated runs): print per row the ns/op of each run, their median and "
        "polysync/anchor from the medians, instead of the one-run tables",
    )
    args = ap.parse_args()
    if args.summary:
        runs = []
        for d in args.summary:
            if not os.path.isdir(d):
                sys.exit(f"no criterion output at {d}")
            g = load(d)
            if args.group_prefix:
                g = {k: v for k, v in g.items() if k.startswith(args.group_prefix)}
            runs.append(g)
        names = set().union(*runs)
        if not names:
            sys.exit("no results in the given directories")
        print(
            f"{len(runs)} runs. polysync/anchor > 1: polysync is slower (takes "
            "that many times longer per operation); < 1: polysync is faster.\n"
        )
        order = [g for g in GROUP_ORDER if g in names] + sorted(
            g for g in names if g not in GROUP_ORDER
        )
        for g in order:
            print_summary(g, [r.get(g, []) for r in runs])
        return
    if not os.path.isdir(args.criterion_dir):
        sys.exit(f"no criterion output at {args.criterion_dir}: run cargo bench first")
    groups = load(args.criterion_dir)
    if args.group_prefix:
        groups = {g: r for g, r in groups.items() if g.startswith(args.group_prefix)}
    if not groups:
        sys.exit(f"no results under {args.criterion_dir}")
    print(
        "anchor/polysync > 1: the anchor takes longer per operation than polysync "
        "(polysync is faster); polysync/anchor > 1: polysync is slower.\n"
    )
    order = [g for g in GROUP_ORDER if g in groups] + sorted(
        g for g in groups if g not in GROUP_ORDER
    )
    for g in order:
        print_group(g, groups[g])


if __name__ == "__main__":
    main()
