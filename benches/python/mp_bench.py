"""Python multiprocessing peers for shmkit's cross-process queue benchmark.

Run by benches/queue.rs (`cargo bench --bench queue`), not by hand, though it can be:

    python3 benches/python/mp_bench.py WORKLOAD COUNT BUDGET_S PARENT_CPU CHILD_CPU

WORKLOAD is one of
  w1-pipe   ping-pong of 8 bytes over multiprocessing.Pipe (send_bytes/recv_bytes)
  w1-queue  ping-pong of 8 bytes over two multiprocessing.Queue objects
  w2-pipe   one-way throughput, one child sending COUNT messages over a Pipe
  w2-queue  one-way throughput over a Queue, one producer process, one consumer (here)
  w2-queue-4x4  four producer processes, four consumer processes, one Queue
A round trip loop stops after COUNT trips or BUDGET_S seconds, whichever comes first.
CPU numbers pin processes (os.sched_setaffinity); -1 leaves them unpinned. In the 4x4
workload producers run on CHILD_CPU and consumers on PARENT_CPU.

Prints `key value` lines: for w1, `trips`, `median_ns`, `p99_ns`; for w2, `messages`
and `rate` (messages per second, measured in the consuming process or, for 4x4, from
the start signal until every consumer has finished).
"""

import multiprocessing as mp
import os
import sys
import time

MSG = b"\x01\x02\x03\x04\x05\x06\x07\x08"
STOP = b"\xff" * 8


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def echo_pipe(conn, cpu):
    pin(cpu)
    while True:
        m = conn.recv_bytes()
        if m == STOP:
            return
        conn.send_bytes(m)


def echo_queue(qin, qout, cpu):
    pin(cpu)
    while True:
        m = qin.get()
        if m == STOP:
            return
        qout.put(m)


def produce_pipe(conn, n, go, cpu):
    pin(cpu)
    go.wait()
    send = conn.send_bytes
    for _ in range(n):
        send(MSG)
    send(STOP)


def produce_queue(q, n, go, cpu):
    pin(cpu)
    go.wait()
    put = q.put
    for _ in range(n):
        put(MSG)


def consume_queue(q, counts, i, go, cpu):
    pin(cpu)
    go.wait()
    get = q.get
    n = 0
    while True:
        m = get()
        if m == STOP:
            break
        n += 1
    counts[i] = n


def round_trips(count, budget, trip):
    for _ in range(max(count // 10, 10)):
        trip()
    times = []
    end = time.perf_counter() + budget
    clock = time.perf_counter_ns
    while len(times) < count and (len(times) < 100 or time.perf_counter() < end):
        t = clock()
        trip()
        times.append(clock() - t)
    times.sort()
    print("trips", len(times))
    print("median_ns", times[len(times) // 2])
    print("p99_ns", times[len(times) * 99 // 100])


def main():
    workload, count, budget, pcpu, ccpu = sys.argv[1:6]
    count, budget, pcpu, ccpu = int(count), float(budget), int(pcpu), int(ccpu)
    pin(pcpu)
    if workload == "w1-pipe":
        a, b = mp.Pipe()
        p = mp.Process(target=echo_pipe, args=(b, ccpu))
        p.start()

        def trip():
            a.send_bytes(MSG)
            a.recv_bytes()

        round_trips(count, budget, trip)
        a.send_bytes(STOP)
        p.join()
    elif workload == "w1-queue":
        qa, qb = mp.Queue(), mp.Queue()
        p = mp.Process(target=echo_queue, args=(qa, qb, ccpu))
        p.start()

        def trip():
            qa.put(MSG)
            qb.get()

        round_trips(count, budget, trip)
        qa.put(STOP)
        p.join()
    elif workload == "w2-pipe":
        a, b = mp.Pipe(duplex=False)
        go = mp.Event()
        p = mp.Process(target=produce_pipe, args=(b, count, go, ccpu))
        p.start()
        t = time.perf_counter()
        go.set()
        n = 0
        recv = a.recv_bytes
        while recv() != STOP:
            n += 1
        dt = time.perf_counter() - t
        p.join()
        assert n == count, (n, count)
        print("messages", n)
        print("rate", n / dt)
    elif workload == "w2-queue":
        q = mp.Queue()
        go = mp.Event()
        p = mp.Process(target=produce_queue, args=(q, count, go, ccpu))
        p.start()
        t = time.perf_counter()
        go.set()
        get = q.get
        for _ in range(count):
            get()
        dt = time.perf_counter() - t
        p.join()
        print("messages", count)
        print("rate", count / dt)
    elif workload == "w2-queue-4x4":
        q = mp.Queue()
        go = mp.Event()
        counts = mp.Array("q", 4)
        per = count // 4
        prods = [mp.Process(target=produce_queue, args=(q, per, go, ccpu)) for _ in range(4)]
        cons = [
            mp.Process(target=consume_queue, args=(q, counts, i, go, pcpu)) for i in range(4)
        ]
        for p in prods + cons:
            p.start()
        t = time.perf_counter()
        go.set()
        for p in prods:
            p.join()
        for _ in cons:
            q.put(STOP)
        for p in cons:
            p.join()
        dt = time.perf_counter() - t
        got = sum(counts[:])
        assert got == per * 4, (got, per * 4)
        print("messages", got)
        print("rate", got / dt)
    else:
        sys.exit(f"unknown workload {workload}")


if __name__ == "__main__":
    main()
