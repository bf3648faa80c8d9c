"""Summarize a ``perf script`` dump per thread: inclusive shares of chosen frames, top self.

How the profiles in BENCHMARKS.md were made (DWARF unwinding sees through the Rust
extension and libpython; the Python thread is named ``python``, tokio's ``natsrs-tokio``)::

    perf record -F 999 --call-graph dwarf,16384 -o perf.data -- \\
        python benchmarks/pyworker.py --client natsrs --scenario publish \\
        --url nats://127.0.0.1:4222 --count 1000000 --warmup 100000
    perf script -i perf.data -F comm,ip,sym > perf.txt
    python benchmarks/perf_summary.py perf.txt 'Sender<T>::send' '_int_malloc' ...

Each pattern is a regular expression matched against the frames of a sample; a sample
counts once per pattern however many of its frames match.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

Sample = tuple[str, list[str]]  # thread name, frames from leaf to root


def samples(path: Path) -> Iterator[Sample]:
    comm: str | None = None
    frames: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as dump:
        for line in dump:
            if not line.strip():
                if comm is not None:
                    yield comm, frames
                comm, frames = None, []
            elif not line[0].isspace():
                comm, frames = line.split()[0], []
            else:
                parts = line.strip().split(None, 1)
                if len(parts) == 2:
                    symbol = parts[1].split(" (", 1)[0]
                    frames.append(re.sub(r"\+0x[0-9a-f]+$", "", symbol))
    if comm is not None:
        yield comm, frames


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("dump", type=Path, help="output of `perf script -F comm,ip,sym`")
    parser.add_argument("patterns", nargs="*", help="regular expressions over frame names")
    parser.add_argument("--top", type=int, default=12, help="self-time entries per thread")
    args = parser.parse_args(argv)

    patterns = [re.compile(p) for p in args.patterns]
    by_thread: dict[str, list[list[str]]] = collections.defaultdict(list)
    for comm, frames in samples(args.dump):
        by_thread[comm].append(frames)
    total = sum(len(v) for v in by_thread.values())
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    for comm, stacks in sorted(by_thread.items(), key=lambda item: -len(item[1])):
        n = len(stacks)
        print(f"== {comm}: {n} samples, {100 * n / total:.0f}% of the process")
        for pattern in patterns:
            hits = sum(any(pattern.search(f) for f in frames) for frames in stacks)
            if hits:
                print(f"  {100 * hits / n:5.1f}% incl  {pattern.pattern}")
        leaves = collections.Counter(frames[0] for frames in stacks if frames)
        print("  top self:")
        for symbol, count in leaves.most_common(args.top):
            print(f"  {100 * count / n:5.1f}%       {symbol[:110]}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
