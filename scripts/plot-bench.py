#!/usr/bin/env python3
"""Tables, target ratios and a chart from the C benchmark's results (scripts/bench-c.sh).

    scripts/plot-bench.py [--results FILE] [--run ID] [--out PNG | --no-plot] [--markdown]
                          [--check-correctness]

FILE is Benchmarks/results/c-results.jsonl by default: one JSON line per (run, N, contender,
class) written by Benchmarks/c/bench.c, plus one "meta" line per run. The last run in the file is
used unless --run names another. It prints, per N, the median and p99 ns/decision of the engine,
the floor and the linear scan for each class, then the ratios the benchmark is judged by:

    engine / floor          HTTP with a path regex (http-path)     target <= 2x
    engine N=max / N=min    each class (100,000 vs 10 by default)  target <= 1.3x
    scan / engine           at N=10,000                            target >= 50x

--out draws PNG (default docs/benchmarks-latency.png): decision latency against N, log axes,
engine/floor/scan for http-path (median solid, p99 dashed; dotted: engine and floor on the
small working set of `bench --hot K`, when measured) and the engine's median per class.
--markdown prints the tables as Markdown (for docs/BENCHMARKS.md). --check-correctness exits 1
when any line of the run reports mismatches.
"""
import argparse
import json
import os
import sys

CLASSES = ["http-path", "http-headers", "tcp", "split"]
CONTENDERS = ["engine", "floor", "scan"]
TARGET_FLOOR = 2.0
TARGET_FLAT = 1.3
TARGET_SCAN = 50.0
SCAN_AT = 10000


def load(path, run):
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    runs = [x["run"] for x in lines]
    if not runs:
        sys.exit(f"plot-bench: no results in {path}")
    if run is None:
        run = runs[-1]
    rows = [x for x in lines if x["run"] == run]
    if not rows:
        sys.exit(f"plot-bench: no run {run!r} in {path}")
    meta = next((x for x in rows if x.get("kind") == "meta"), {})
    data, hot = {}, {}
    for x in rows:
        if "contender" in x:
            key = (x["targets"], x["contender"], x["class"])
            if x.get("set", "all") == "all":
                data[key] = x
            else:
                hot[key] = x
    return run, meta, data, hot


def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} µs"
    if ns >= 100:
        return f"{ns:.0f} ns"
    return f"{ns:.1f} ns"


def fmt_ratio(r):
    if r is None:
        return "–"
    return f"{r:,.0f}×" if r >= 100 else f"{r:.2f}×"


def table(rows, markdown):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        if markdown:
            out.append("| " + " | ".join(str(c) for c in r) + " |")
            if k == 0:
                out.append("|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(r))) + "|")
        else:
            out.append("  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                                 for i, c in enumerate(r)))
    return "\n".join(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", default=os.path.join(root, "Benchmarks/results/c-results.jsonl"))
    p.add_argument("--run")
    p.add_argument("--out", default=os.path.join(root, "docs/benchmarks-latency.png"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--check-correctness", action="store_true")
    a = p.parse_args()

    run, meta, data, hot = load(a.results, a.run)
    sizes = sorted({k[0] for k in data})
    get = lambda n, who, cls, key="median_ns": data.get((n, who, cls), {}).get(key)
    md = a.markdown

    print(f"run {run}" + (f" on {meta['cpu']} ({meta['cores']} cores)" if meta.get("cpu") else ""))
    print()

    # Latency per N, class and contender.
    rows = [["N", "class", "engine median", "engine p99", "floor median", "floor p99", "scan median", "scan p99",
             "engine ÷ floor", "scan ÷ engine"]]
    for n in sizes:
        for cls in CLASSES:
            if get(n, "engine", cls) is None:
                continue
            e, f, s = get(n, "engine", cls), get(n, "floor", cls), get(n, "scan", cls)
            rows.append([f"{n:,}", cls, fmt_ns(e), fmt_ns(get(n, "engine", cls, "p99_ns")), fmt_ns(f),
                         fmt_ns(get(n, "floor", cls, "p99_ns")), fmt_ns(s), fmt_ns(get(n, "scan", cls, "p99_ns")),
                         fmt_ratio(e / f if e and f else None), fmt_ratio(s / e if e and s else None)])
    print(table(rows, md))
    print()

    # Compile time and memory per N.
    rows = [["N", "rules", "requests", "compile", "peak RSS after compile", "RSS after compile",
             "policy heap", "heap per TrafficTarget"]]
    for n in sizes:
        x = data.get((n, "engine", "http-path")) or next(v for k, v in data.items() if k[0] == n and k[1] == "engine")
        requests = sum(get(n, "engine", cls, "requests") or 0 for cls in CLASSES)
        heap = x.get("policy_heap_kb", -1)  # absent in runs before it was recorded
        rows.append([f"{n:,}", f"{x['rules']:,}", f"{requests:,}", f"{x['compile_ms']:,.1f} ms",
                     f"{x['peak_rss_kb'] / 1024:,.1f} MB", f"{x['rss_kb'] / 1024:,.1f} MB",
                     f"{heap / 1024:,.1f} MB" if heap >= 0 else "–",
                     f"{heap * 1024 / n:,.0f} B" if heap >= 0 else "–"])
    print(table(rows, md))
    print()

    # The targets.
    verdict = lambda ok: "met" if ok else "MISSED"
    rows = [["ratio", "where", "value", "target", "verdict"]]
    worst = None
    for n in sizes:
        e, f = get(n, "engine", "http-path"), get(n, "floor", "http-path")
        if e and f:
            r = e / f
            worst = max(worst or 0, r)
            rows.append(["engine ÷ floor", f"http-path, N={n:,}", fmt_ratio(r), f"≤ {TARGET_FLOOR:g}×",
                         verdict(r <= TARGET_FLOOR)])
    lo, hi = (sizes[0], sizes[-1]) if sizes else (None, None)
    if lo is not None and lo != hi:
        for cls in CLASSES:
            e0, e1 = get(lo, "engine", cls), get(hi, "engine", cls)
            if e0 and e1:
                r = e1 / e0
                rows.append([f"engine N={hi:,} ÷ N={lo:,}", cls, fmt_ratio(r), f"≤ {TARGET_FLAT:g}×",
                             verdict(r <= TARGET_FLAT)])
    if SCAN_AT in sizes:
        for cls in CLASSES:
            e, s = get(SCAN_AT, "engine", cls), get(SCAN_AT, "scan", cls)
            if e and s:
                r = s / e
                rows.append(["scan ÷ engine", f"{cls}, N={SCAN_AT:,}", fmt_ratio(r), f"≥ {TARGET_SCAN:g}×",
                             verdict(r >= TARGET_SCAN)])
    print(table(rows, md))

    # The small working set (bench --hot K): the same decisions with the engine's data in cache.
    if hot:
        hot_set = next(iter(hot.values()))["set"]
        geth = lambda n, who, cls, key="median_ns": hot.get((n, who, cls), {}).get(key)
        print()
        print(f"working set of {hot_set[3:]} requests per class ({hot_set}):")
        print()
        rows = [["N", "class", "engine median", "engine p99", "floor median", "floor p99", "engine ÷ floor",
                 "engine ÷ engine N=" + f"{sizes[0]:,}"]]
        for n in sizes:
            for cls in CLASSES:
                e, f = geth(n, "engine", cls), geth(n, "floor", cls)
                if e is None:
                    continue
                e0 = geth(sizes[0], "engine", cls)
                rows.append([f"{n:,}", cls, fmt_ns(e), fmt_ns(geth(n, "engine", cls, "p99_ns")), fmt_ns(f),
                             fmt_ns(geth(n, "floor", cls, "p99_ns")), fmt_ratio(e / f if e and f else None),
                             fmt_ratio(e / e0 if e and e0 else None)])
        print(table(rows, md))

    bad = [(k, v["mismatches"]) for k, v in list(data.items()) + list(hot.items()) if v.get("mismatches")]
    if bad:
        print()
        for (n, who, cls), m in sorted(bad):
            print(f"MISMATCHES: N={n} {who} {cls}: {m}")

    if not a.no_plot:
        plot(data, hot, sizes, a.out, run, meta)
        print(f"\nplot-bench: wrote {a.out}")
    if a.check_correctness and bad:
        sys.exit(1)


def plot(data, hot, sizes, out, run, meta):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    get = lambda n, who, cls, key: data.get((n, who, cls), {}).get(key)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    colors = {"engine": "tab:blue", "floor": "tab:green", "scan": "tab:red"}
    labels = {"engine": "engine (libsmiengine)", "floor": "floor (hash + 1 regex)", "scan": "linear scan (first match)"}
    for who in CONTENDERS:
        ns = [n for n in sizes if get(n, who, "http-path", "median_ns")]
        if not ns:
            continue
        left.plot(ns, [get(n, who, "http-path", "median_ns") for n in ns], "o-", color=colors[who],
                  label=labels[who] + ", median")
        left.plot(ns, [get(n, who, "http-path", "p99_ns") for n in ns], "--", color=colors[who], alpha=0.6,
                  label=labels[who] + ", p99")
    for who in ("engine", "floor"):
        ns = [n for n in sizes if hot.get((n, who, "http-path"))]
        if ns:
            label = f"{who}, median, {hot[(ns[0], who, 'http-path')]['requests']} requests (cache-warm)"
            left.plot(ns, [hot[(n, who, "http-path")]["median_ns"] for n in ns], ":", marker="x",
                      color=colors[who], label=label)
    left.set_title("HTTP request with a path regex (http-path)")
    markers = {"http-path": "o", "http-headers": "s", "tcp": "^", "split": "D"}
    for cls in CLASSES:
        ns = [n for n in sizes if get(n, "engine", cls, "median_ns")]
        if ns:
            right.plot(ns, [get(n, "engine", cls, "median_ns") for n in ns], "-", marker=markers[cls], label=cls)
    right.set_title("engine, median per request class")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("TrafficTargets (N)")
        ax.set_ylabel("ns per decision")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    where = f" — {meta['cpu']}, {meta['cores']} cores" if meta.get("cpu") else ""
    fig.suptitle(f"SMIEngine decision latency through the C ABI ({run}){where}", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
