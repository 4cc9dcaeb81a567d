"""Python's multiprocessing, measured the way benches/process.rs measures shmkit.

Prints one JSON object: medians in microseconds of
- Process start + join of a function that returns at once (fork and spawn contexts),
- Pool(2).map of a trivial function over 100,000 ints with the given chunksize
  (a pool already started; fork context, Python's default on Linux up to 3.13).

Run by `cargo bench --bench process`; standalone: python3 benches/python/process_bench.py
"""
import json
import multiprocessing as mp
import statistics
import sys
import time


def nothing():
    pass


def double(x):
    return x * 2


def start_join(ctx, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        p = ctx.Process(target=nothing)
        p.start()
        p.join()
        times.append(time.perf_counter() - t)
        assert p.exitcode == 0
    return statistics.median(times) * 1e6


def pool_map(ctx, items, chunksize, rounds):
    data = list(range(items))
    with ctx.Pool(2) as pool:
        pool.map(double, data, chunksize=chunksize)  # warm up
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            out = pool.map(double, data, chunksize=chunksize)
            times.append(time.perf_counter() - t)
            assert out[-1] == (items - 1) * 2
    return statistics.median(times) * 1e6


def main():
    forks = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    spawns = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    items = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    chunksize = int(sys.argv[4]) if len(sys.argv) > 4 else 12_500
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    out = {
        "python": sys.version.split()[0],
        "fork_start_join_us": start_join(mp.get_context("fork"), forks),
        "spawn_start_join_us": start_join(mp.get_context("spawn"), spawns),
        "pool_map_us": pool_map(mp.get_context("fork"), items, chunksize, rounds),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
