#!/usr/bin/env python3
"""Summarise a dotnet-trace speedscope file under one frame: the call tree to a depth, and leaf time.

    dotnet-trace collect --format speedscope -o run.nettrace -- dotnet .../minihv.dll run ...
    tools/profiling/speedscope-summary.py run.speedscope.json Cpu.ChainBlocks [DEPTH]

Times are shares of the time spent under the first frame whose name contains ROOT (the guest's
execution loop, say), so profiles of runs of different lengths compare. dotnet-trace's evented
profiles mark leaf time with CPU_TIME / UNMANAGED_CODE_TIME frames; those are folded into their caller.
"""
import collections
import json
import sys


def stacks(doc):
    """Yield (stack of frame names, duration) for every span of every thread's evented profile."""
    names = [f["name"] for f in doc["shared"]["frames"]]
    for profile in doc["profiles"]:
        stack, last = [], None
        for event in profile["events"]:
            at = event["at"]
            if last is not None and stack:
                yield [names[f] for f in stack], at - last
            if event["type"] == "O":
                stack.append(event["frame"])
            else:
                stack.pop()
            last = at


def short(name):
    return name.split("!")[-1][:110]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, root = sys.argv[1], sys.argv[2]
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    tree, leaves, total = collections.Counter(), collections.Counter(), 0.0
    with open(path) as f:
        doc = json.load(f)
    for stack, took in stacks(doc):
        at = next((i for i, n in enumerate(stack) if root in n), None)
        if at is None:
            continue
        total += took
        below = [n for n in stack[at + 1:] if n not in ("CPU_TIME", "UNMANAGED_CODE_TIME")]
        for k in range(1, min(depth, len(below)) + 1):
            tree[tuple(below[:k])] += took
        leaves[below[-1] if below else stack[at]] += took
    if total == 0:
        sys.exit(f"no frame named like {root!r} in {path}")
    print(f"under {root}: call tree (inclusive, at least 1%)")
    for path_, took in sorted(tree.items(), key=lambda kv: -kv[1]):
        if took / total >= 0.01:
            print(f"{100 * took / total:6.2f}% {'  ' * (len(path_) - 1)}{short(path_[-1])}")
    print("leaf time (exclusive)")
    for name, took in leaves.most_common(20):
        print(f"{100 * took / total:6.2f}% {short(name)}")


if __name__ == "__main__":
    main()
