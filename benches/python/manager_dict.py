"""Peer for benches/dict.rs: Python's Manager().dict() used from another process.

A Manager server process holds the dict; a worker process (not the one that made it)
times N reads `d[key]` and N writes `d[key] = value` through its proxy, with the same
1000 keys "key-<i>" and 8-byte values as the Rust bench. Prints one JSON line:
{"get_ns": ..., "insert_ns": ..., "n": ...} (nanoseconds per operation).

    python3 benches/python/manager_dict.py [N]
"""
import json
import sys
import time
from multiprocessing import Manager, Process, Queue

KEYS = [f"key-{i}" for i in range(1000)]


def worker(d, n, q):
    for k in KEYS[:100]:  # warm up the connection
        d[k]
    t = time.perf_counter_ns()
    for i in range(n):
        d[KEYS[i % 1000]]
    get_ns = (time.perf_counter_ns() - t) / n
    t = time.perf_counter_ns()
    for i in range(n):
        d[KEYS[i % 1000]] = b"value-xx"
    insert_ns = (time.perf_counter_ns() - t) / n
    q.put((get_ns, insert_ns))


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with Manager() as m:
        d = m.dict()
        for k in KEYS:
            d[k] = b"value-00"
        q = Queue()
        p = Process(target=worker, args=(d, n, q))
        p.start()
        get_ns, insert_ns = q.get()
        p.join()
    print(json.dumps({"get_ns": get_ns, "insert_ns": insert_ns, "n": n}))
