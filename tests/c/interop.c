/* The C side of tests/c_interop.rs: one program, a role per scenario.
 *
 *   interop point <name>                 update a Rust-made Value<point> under its lock
 *   interop point_owner <name>           create a Value<point>, wait for a line on stdin
 *   interop array_owner <name> <n>       create an Array<f64>, let Rust fill it, verify
 *   interop count <mutex> <value> <n>    n increments of a Value<i64> under a Mutex
 *   interop die_holding <mutex>          lock, say so, then wait to be killed
 *   interop expect_owner_died <mutex>    lock and expect SHMKIT_OWNER_DIED
 *   interop event_pingpong <ping> <pong> wait for the event ping, then set pong
 *   interop sem_count <sem> <value> <n>  n increments of a Value<i64>, each holding the
 *                                        only permit of a BoundedSemaphore(1)
 *   interop barrier <name> <rounds>      pass a barrier `rounds` times, print each index
 *   interop rlock_die_holding <rlock>    lock an RLock twice, say so, wait to be killed
 *   interop queue_produce <queue> <n>    put points (i, -i) for i in 0..n into a Queue<point>
 *   interop queue_consume <queue> <n>    get n points, check they are (i, -i) in order
 *   interop frames_produce <queue> <n>   put n 64 KiB frames (a pooled queue): even ones
 *                                        with shmkit_queue_put, odd ones written in place
 *   interop frames_consume <queue> <n>   take n frames, even ones with shmkit_queue_get,
 *                                        odd ones read in place, and check every byte */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmkit.h"

struct point {
    double x, y;
};

static const shmkit_type point_type = SHMKIT_TYPE(struct point, "point");

/* 64 KiB: a pooled queue's element (its messages live in a buffer pool). */
struct frame {
    uint64_t seq;
    uint8_t bytes[65528];
};

static const shmkit_type frame_type = SHMKIT_TYPE(struct frame, "pool-frame");

static uint8_t frame_pattern(uint64_t seq) { return (uint8_t)((seq * 31) % 251); }
static const shmkit_type f64_type = SHMKIT_TYPE(double, "f64");
static const shmkit_type i64_type = SHMKIT_TYPE(int64_t, "i64");

#define TRY(call)                                                                      \
    do {                                                                               \
        shmkit_status s_ = (call);                                                     \
        if (s_ != SHMKIT_OK) {                                                         \
            fprintf(stderr, "%s: %s (%s)\n", #call, shmkit_status_message(s_),         \
                    shmkit_last_error_message());                                      \
            exit(2);                                                                   \
        }                                                                              \
    } while (0)

static void say(const char *line) {
    printf("%s\n", line);
    fflush(stdout);
}

static void wait_line(void) {
    char buf[64];
    if (!fgets(buf, sizeof buf, stdin)) exit(3);
}

static int point(const char *name) {
    shmkit_value *v = NULL;
    struct point *p = NULL;
    const shmkit_type too_big = {"point", 24, 8};
    /* A mismatched descriptor is refused before anything else. */
    if (shmkit_value_open(name, &too_big, &v) != SHMKIT_TYPE_MISMATCH) return 4;
    TRY(shmkit_value_open(name, &point_type, &v));
    TRY(shmkit_value_data(v, (void **)&p));
    TRY(shmkit_value_lock(v));
    p->x += 1;
    p->y *= 2;
    TRY(shmkit_value_unlock(v));
    TRY(shmkit_value_close(&v));
    return 0;
}

static int point_owner(const char *name) {
    shmkit_value *v = NULL;
    const struct point init = {5, 6};
    TRY(shmkit_value_create(name, &point_type, &init, &v));
    say("ready");
    wait_line();
    TRY(shmkit_value_close(&v));
    return 0;
}

static int array_owner(const char *name, size_t n) {
    shmkit_array *a = NULL;
    double *got = calloc(n, sizeof *got);
    size_t i;
    int bad = 0;
    if (!got) return 5;
    TRY(shmkit_array_create(name, &f64_type, n, &a));
    say("ready");
    wait_line();
    TRY(shmkit_array_read(a, 0, n, got));
    for (i = 0; i < n; i++) bad += got[i] != (double)i * 0.5;
    TRY(shmkit_array_close(&a));
    free(got);
    say(bad ? "wrong" : "verified");
    return bad ? 6 : 0;
}

static int count(const char *mutex_name, const char *value_name, long n) {
    shmkit_mutex *m = NULL;
    shmkit_value *v = NULL;
    int64_t *counter = NULL;
    long i;
    TRY(shmkit_mutex_open(mutex_name, &m));
    TRY(shmkit_value_open(value_name, &i64_type, &v));
    TRY(shmkit_value_data(v, (void **)&counter));
    for (i = 0; i < n; i++) {
        TRY(shmkit_mutex_lock(m));
        /* A plain read-modify-write: only the mutex makes it correct. */
        *counter = *counter + 1;
        TRY(shmkit_mutex_unlock(m));
    }
    TRY(shmkit_value_close(&v));
    TRY(shmkit_mutex_close(&m));
    return 0;
}

static int die_holding(const char *name) {
    shmkit_mutex *m = NULL;
    TRY(shmkit_mutex_open(name, &m));
    TRY(shmkit_mutex_lock(m));
    say("locked");
    for (;;) pause();
}

static int expect_owner_died(const char *name) {
    shmkit_mutex *m = NULL;
    shmkit_status s;
    TRY(shmkit_mutex_open(name, &m));
    s = shmkit_mutex_lock_timeout(m, 10LL * 1000 * 1000 * 1000);
    if (s != SHMKIT_OWNER_DIED) {
        fprintf(stderr, "expected SHMKIT_OWNER_DIED, got %s\n", shmkit_status_message(s));
        return 7;
    }
    TRY(shmkit_mutex_mark_consistent(m));
    TRY(shmkit_mutex_unlock(m));
    TRY(shmkit_mutex_close(&m));
    say("owner died");
    return 0;
}

static int event_pingpong(const char *ping_name, const char *pong_name) {
    shmkit_event *ping = NULL, *pong = NULL;
    bool set = false;
    TRY(shmkit_event_open(ping_name, &ping));
    TRY(shmkit_event_open(pong_name, &pong));
    say("ready");
    TRY(shmkit_event_wait_timeout(ping, 60LL * 1000 * 1000 * 1000, &set));
    if (!set) return 8;
    TRY(shmkit_event_set(pong));
    TRY(shmkit_event_close(&pong));
    TRY(shmkit_event_close(&ping));
    return 0;
}

static int sem_count(const char *sem_name, const char *value_name, long n) {
    shmkit_semaphore *s = NULL;
    shmkit_value *v = NULL;
    int64_t *counter = NULL;
    long i;
    /* Made by Rust as a BoundedSemaphore: not an unbounded one. */
    if (shmkit_semaphore_open(sem_name, &s) != SHMKIT_KIND_MISMATCH) return 9;
    TRY(shmkit_semaphore_open_bounded(sem_name, &s));
    TRY(shmkit_value_open(value_name, &i64_type, &v));
    TRY(shmkit_value_data(v, (void **)&counter));
    for (i = 0; i < n; i++) {
        TRY(shmkit_semaphore_acquire(s));
        /* A plain read-modify-write: only the semaphore's one permit makes it correct. */
        *counter = *counter + 1;
        TRY(shmkit_semaphore_release(s));
    }
    TRY(shmkit_value_close(&v));
    TRY(shmkit_semaphore_close(&s));
    return 0;
}

static int barrier(const char *name, long rounds) {
    shmkit_barrier *b = NULL;
    uint32_t index = 0;
    long r;
    TRY(shmkit_barrier_open(name, &b));
    for (r = 0; r < rounds; r++) {
        TRY(shmkit_barrier_wait_timeout(b, 60LL * 1000 * 1000 * 1000, &index));
        printf("%u\n", index);
        fflush(stdout);
    }
    TRY(shmkit_barrier_close(&b));
    return 0;
}

static int rlock_die_holding(const char *name) {
    shmkit_rlock *l = NULL;
    TRY(shmkit_rlock_open(name, &l));
    TRY(shmkit_rlock_lock(l));
    TRY(shmkit_rlock_lock(l));
    say("locked");
    for (;;) pause();
}

static int queue_produce(const char *name, long n) {
    shmkit_queue *q = NULL;
    long i;
    TRY(shmkit_queue_open(name, &point_type, &q));
    for (i = 0; i < n; i++) {
        const struct point p = {(double)i, -(double)i};
        TRY(shmkit_queue_put(q, &p, -1));
    }
    TRY(shmkit_queue_close(&q));
    return 0;
}

static int frames_produce(const char *name, long n) {
    shmkit_queue *q = NULL;
    struct frame *f = malloc(sizeof *f);
    long i;
    if (!f) return 5;
    TRY(shmkit_queue_open(name, &frame_type, &q));
    for (i = 0; i < n; i++) {
        struct frame *dst = f;
        shmkit_queue_slot slot;
        if (i % 2) {
            TRY(shmkit_queue_reserve(q, -1, &slot));
            dst = slot.data;
        }
        dst->seq = (uint64_t)i;
        memset(dst->bytes, frame_pattern((uint64_t)i), sizeof dst->bytes);
        if (i % 2)
            TRY(shmkit_queue_commit(q, &slot));
        else
            TRY(shmkit_queue_put(q, f, -1));
    }
    TRY(shmkit_queue_close(&q));
    free(f);
    return 0;
}

static int frames_consume(const char *name, long n) {
    shmkit_queue *q = NULL;
    struct frame *f = malloc(sizeof *f);
    long i;
    size_t k;
    if (!f) return 5;
    TRY(shmkit_queue_open(name, &frame_type, &q));
    for (i = 0; i < n; i++) {
        const struct frame *src = f;
        shmkit_queue_slot slot;
        if (i % 2) {
            TRY(shmkit_queue_get_ref(q, 30LL * 1000 * 1000 * 1000, &slot));
            src = slot.data;
        } else {
            TRY(shmkit_queue_get(q, f, 30LL * 1000 * 1000 * 1000));
        }
        if (src->seq != (uint64_t)i) {
            fprintf(stderr, "frame %ld has seq %llu\n", i, (unsigned long long)src->seq);
            return 8;
        }
        for (k = 0; k < sizeof src->bytes; k++)
            if (src->bytes[k] != frame_pattern((uint64_t)i)) {
                fprintf(stderr, "frame %ld byte %zu is %u\n", i, k, src->bytes[k]);
                return 9;
            }
        if (i % 2) TRY(shmkit_queue_release(q, &slot));
    }
    TRY(shmkit_queue_close(&q));
    free(f);
    say("verified");
    return 0;
}

static int queue_consume(const char *name, long n) {
    shmkit_queue *q = NULL;
    long i;
    TRY(shmkit_queue_open(name, &point_type, &q));
    for (i = 0; i < n; i++) {
        struct point p;
        TRY(shmkit_queue_get(q, &p, 30LL * 1000 * 1000 * 1000));
        if (p.x != (double)i || p.y != -(double)i) {
            fprintf(stderr, "message %ld is (%g, %g)\n", i, p.x, p.y);
            return 8;
        }
    }
    TRY(shmkit_queue_close(&q));
    say("verified");
    return 0;
}

/* Opens a byte dict made by Rust, checks the Rust entry, then inserts n entries of its
 * own (removing every third again) while the Rust process does the same. */
static int dict_share(const char *name, long n) {
    shmkit_dict *d = NULL;
    char buf[64], key[32], value[32];
    size_t len = 0;
    bool found = false, removed = false;
    long i;
    if (shmkit_dict_open(name, &d) != SHMKIT_OK) return 1;
    if (shmkit_dict_get(d, "from-rust", 9, buf, sizeof buf, &len, &found) != SHMKIT_OK) return 2;
    if (!found || len != 15 || memcmp(buf, "hello from rust", 15) != 0) return 3;
    for (i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "c-%ld", i);
        int vl = snprintf(value, sizeof value, "value %ld", i * i);
        if (shmkit_dict_insert(d, key, (size_t)kl, value, (size_t)vl, NULL) != SHMKIT_OK) return 4;
        if (i % 3 == 0) {
            if (shmkit_dict_remove(d, key, (size_t)kl, &removed) != SHMKIT_OK || !removed) return 5;
        }
    }
    if (shmkit_dict_insert(d, "from-c", 6, "hello from c", 12, NULL) != SHMKIT_OK) return 6;
    shmkit_dict_close(&d);
    return 0;
}

int main(int argc, char **argv) {
    const char *role = argc > 1 ? argv[1] : "";
    if (!strcmp(role, "point") && argc == 3) return point(argv[2]);
    if (!strcmp(role, "dict_share") && argc == 4) return dict_share(argv[2], strtol(argv[3], NULL, 10));
    if (!strcmp(role, "point_owner") && argc == 3) return point_owner(argv[2]);
    if (!strcmp(role, "array_owner") && argc == 4)
        return array_owner(argv[2], (size_t)strtoul(argv[3], NULL, 10));
    if (!strcmp(role, "count") && argc == 5) return count(argv[2], argv[3], strtol(argv[4], NULL, 10));
    if (!strcmp(role, "die_holding") && argc == 3) return die_holding(argv[2]);
    if (!strcmp(role, "expect_owner_died") && argc == 3) return expect_owner_died(argv[2]);
    if (!strcmp(role, "event_pingpong") && argc == 4) return event_pingpong(argv[2], argv[3]);
    if (!strcmp(role, "sem_count") && argc == 5)
        return sem_count(argv[2], argv[3], strtol(argv[4], NULL, 10));
    if (!strcmp(role, "barrier") && argc == 4) return barrier(argv[2], strtol(argv[3], NULL, 10));
    if (!strcmp(role, "rlock_die_holding") && argc == 3) return rlock_die_holding(argv[2]);
    if (!strcmp(role, "queue_produce") && argc == 4)
        return queue_produce(argv[2], strtol(argv[3], NULL, 10));
    if (!strcmp(role, "queue_consume") && argc == 4)
        return queue_consume(argv[2], strtol(argv[3], NULL, 10));
    if (!strcmp(role, "frames_produce") && argc == 4)
        return frames_produce(argv[2], strtol(argv[3], NULL, 10));
    if (!strcmp(role, "frames_consume") && argc == 4)
        return frames_consume(argv[2], strtol(argv[3], NULL, 10));
    fprintf(stderr, "usage: see the comment at the top of interop.c\n");
    return 64;
}
