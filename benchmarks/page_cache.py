"""Page-cache timing channel between two sandbox sessions: how many secret bits get through.

A victim session holds a secret bit and reads one of two library files accordingly (as an
``import`` would). An attacker session, beforehand, tries to evict both files from the page
cache: with ``posix_fadvise(DONTNEED)``, or failing that by filling its own memory limit (memory
pressure); afterwards it times a read of each file and guesses that the faster one is the one
the victim read. Printed: how the eviction went, the share of bits guessed right, the trials per
second, and the channel's capacity in bits per second (a binary symmetric channel).

Usage: python benchmarks/page_cache.py [--trials N] [--pressure-mb M]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time

from verimath.interpreter import Interpreter, Limits

FIND_FILES = """
import glob, os, sys
candidates = sorted(glob.glob(os.path.dirname(os.__file__) + '/**/*.py', recursive=True))
loaded = {getattr(m, '__file__', None) for m in list(sys.modules.values())}
files = [p for p in candidates if p not in loaded and os.path.getsize(p) > 65536][:2]
print(files)
"""
EVICT = """
import os, json
files = {files!r}
how = 'fadvise'
try:
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
except OSError:
    how = 'pressure'
    try:
        block = bytearray({pressure_mb} * 2**20)
        block[::4096] = b'x' * len(block[::4096])
        del block
    except MemoryError:
        pass
print(how)
"""
VICTIM = "data = open({path!r}, 'rb').read()"
PROBE = """
import os, time
times = []
for path in {files!r}:
    fd = os.open(path, os.O_RDONLY)
    start = time.perf_counter_ns()
    os.pread(fd, 65536, 0)
    times.append(time.perf_counter_ns() - start)
    os.close(fd)
print(int(times[1] < times[0]))
"""


def capacity(accuracy: float) -> float:
    """Bits per use of a binary symmetric channel that is right with this probability."""
    p = min(max(accuracy, 1e-12), 1 - 1e-12)
    return max(0.0, 1 + p * math.log2(p) + (1 - p) * math.log2(1 - p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--pressure-mb", type=int, default=1800)
    args = parser.parse_args()
    limits = Limits(timeout_s=30, memory_mb=2048)
    rng = random.Random(0)
    with Interpreter(limits) as interp, interp.session() as attacker, interp.session() as victim:
        files = json.loads(attacker.run(FIND_FILES).output.replace("'", '"'))
        right, methods = 0, set()
        started = time.perf_counter()
        for _ in range(args.trials):
            secret = rng.randrange(2)
            evict = EVICT.format(files=files, pressure_mb=args.pressure_mb)
            methods.add(attacker.run(evict).output.strip())
            victim.run(VICTIM.format(path=files[secret]))
            guess = attacker.run(PROBE.format(files=files)).output.strip()
            right += guess == str(secret)
        elapsed = time.perf_counter() - started
    accuracy = right / args.trials
    rate = args.trials / elapsed
    print(f"eviction: {', '.join(sorted(methods))}; files: {len(files)}")
    print(f"bits guessed right: {right}/{args.trials} ({accuracy:.0%})")
    print(f"trials per second: {rate:.2f}")
    print(f"capacity: {capacity(accuracy) * rate:.3f} bits/s ({capacity(accuracy):.3f} bits/trial)")


if __name__ == "__main__":
    main()
