/* shmkit_queue_*: the queue and joinable queue, between processes. */
#include "check.h"

#define MESSAGES 100000

struct msg {
    uint64_t seq;
    uint32_t tag;
    uint32_t pad;
};

static const shmkit_type msg_type = SHMKIT_TYPE(struct msg, "c-queue-msg");
static const shmkit_type u64_type = SHMKIT_TYPE(uint64_t, "u64");
static const shmkit_type u32_type = SHMKIT_TYPE(uint32_t, "u32");

static size_t len_of(const shmkit_queue *q) {
    size_t n = 99;
    OK(shmkit_queue_len(q, &n));
    return n;
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("queue");
    const char *jname = name_of("queue-joinable");
    shmkit_queue *q = NULL, *q2 = NULL, *j = NULL;
    uint64_t v = 0, buf[8];
    size_t n = 0;
    bool flag = false;
    uint64_t unfinished = 0;
    pid_t pid;
    int i;

    /* NULL arguments, bad names, missing segments, bad types. */
    EXPECT(shmkit_queue_create(NULL, &u64_type, 4, &q), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_create(name, NULL, 4, &q), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_create(name, &u64_type, 4, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_open(NULL, &u64_type, &q), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_open(name, NULL, &q), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_open(name, &u64_type, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_open_or_create(NULL, &u64_type, 4, &q), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_open_or_create(name, &u64_type, 4, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_joinable_queue_create(NULL, &u64_type, 4, &j), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_joinable_queue_open(name, NULL, &j), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_joinable_queue_open_or_create(name, &u64_type, 4, NULL),
           SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_open(name, &u64_type, &q), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_joinable_queue_open(name, &u64_type, &q), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_queue_create(".dot", &u64_type, 4, &q), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_queue_create(name, &u64_type, 0, &q), SHMKIT_INVALID_ARGUMENT);
    {
        shmkit_type bad = {"bad", 3, 2};
        shmkit_type noname = {NULL, 8, 8};
        EXPECT(shmkit_queue_create(name, &bad, 4, &q), SHMKIT_INVALID_ARGUMENT);
        EXPECT(shmkit_queue_create(name, &noname, 4, &q), SHMKIT_NULL_ARGUMENT);
    }
    CHECK(q == NULL);

    EXPECT(shmkit_queue_put(NULL, &v, -1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_put(NULL, &v), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_get(NULL, &v, -1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_get(NULL, &v), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_put_many(NULL, buf, 1, -1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_put_many(NULL, buf, 1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_get_many(NULL, buf, 1, -1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_get_many(NULL, buf, 1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_len(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_capacity(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_is_closed(NULL, &flag), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_shutdown(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_task_done(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_join(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_join_timeout(NULL, 1, &flag), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_unfinished(NULL, &unfinished), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_close(NULL), SHMKIT_NULL_ARGUMENT);

    OK(shmkit_queue_create(name, &u64_type, 4, &q));
    EXPECT(shmkit_queue_create(name, &u64_type, 4, &q2), SHMKIT_ALREADY_EXISTS);
    CHECK(q2 == NULL);

    /* NULL element and out-parameters on a live handle. */
    EXPECT(shmkit_queue_put(q, NULL, -1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_put(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_get(q, NULL, 0), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_get(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_put_many(q, NULL, 1, -1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_put_many(q, buf, 1, -1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_put_many(q, NULL, 1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_put_many(q, buf, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_get_many(q, NULL, 1, 0, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_get_many(q, buf, 1, 0, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_get_many(q, NULL, 1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_get_many(q, buf, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_len(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_capacity(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_is_closed(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_unfinished(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_join_timeout(q, 0, NULL), SHMKIT_NULL_ARGUMENT);
    CHECK(len_of(q) == 0);

    /* Wrong types and kinds. */
    EXPECT(shmkit_queue_open(name, &u32_type, &q2), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_queue_open(name, &msg_type, &q2), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_joinable_queue_open(name, &u64_type, &q2), SHMKIT_KIND_MISMATCH);
    EXPECT(shmkit_joinable_queue_open_or_create(name, &u64_type, 4, &q2),
           SHMKIT_KIND_MISMATCH);
    CHECK(q2 == NULL);
    {
        shmkit_event *e = NULL;
        shmkit_queue *k = NULL;
        OK(shmkit_event_create(name_of("queue-event"), &e));
        EXPECT(shmkit_queue_open(name_of("queue-event"), &u64_type, &k), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_event_open(name, &e), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_queue_len((const shmkit_queue *)(const void *)e, &n),
               SHMKIT_INVALID_HANDLE);
        EXPECT(shmkit_event_set((const shmkit_event *)(const void *)q), SHMKIT_INVALID_HANDLE);
        CHECK(k == NULL);
        OK(shmkit_event_close(&e));
    }
    /* The plain queue has no joinable calls. */
    EXPECT(shmkit_queue_task_done(q), SHMKIT_KIND_MISMATCH);
    EXPECT(shmkit_queue_join(q), SHMKIT_KIND_MISMATCH);
    EXPECT(shmkit_queue_join_timeout(q, 0, &flag), SHMKIT_KIND_MISMATCH);
    EXPECT(shmkit_queue_unfinished(q, &unfinished), SHMKIT_KIND_MISMATCH);

    /* One at a time, FIFO; full and empty. */
    OK(shmkit_queue_capacity(q, &n));
    CHECK(n == 4);
    OK(shmkit_queue_open(name, &u64_type, &q2));
    for (v = 1; v <= 4; v++) OK(shmkit_queue_try_put(q, &v));
    EXPECT(shmkit_queue_try_put(q, &v), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_queue_put(q, &v, 1000000), SHMKIT_TIMEOUT);
    CHECK(len_of(q2) == 4);
    for (i = 1; i <= 4; i++) {
        v = 0;
        OK(shmkit_queue_try_get(q2, &v));
        CHECK(v == (uint64_t)i);
    }
    v = 77;
    EXPECT(shmkit_queue_try_get(q2, &v), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_queue_get(q2, &v, 1000000), SHMKIT_TIMEOUT);
    CHECK(v == 77); /* not written on failure */
    v = 5;
    OK(shmkit_queue_put(q, &v, -1));
    OK(shmkit_queue_get(q2, &v, -1));
    CHECK(v == 5);

    /* Several at a time. */
    for (i = 0; i < 8; i++) buf[i] = 100 + (uint64_t)i;
    n = 99;
    OK(shmkit_queue_try_put_many(q, buf, 0, &n));
    CHECK(n == 0);
    OK(shmkit_queue_try_put_many(q, buf, 3, &n));
    CHECK(n == 3);
    OK(shmkit_queue_try_put_many(q, buf + 3, 5, &n));
    CHECK(n == 1);
    EXPECT(shmkit_queue_try_put_many(q, buf, 2, &n), SHMKIT_WOULD_BLOCK);
    CHECK(n == 0);
    n = 99;
    EXPECT(shmkit_queue_put_many(q, buf, 2, 1000000, &n), SHMKIT_TIMEOUT);
    CHECK(n == 0); /* written on TIMEOUT */
    memset(buf, 0, sizeof buf);
    OK(shmkit_queue_try_get_many(q2, buf, 2, &n));
    CHECK(n == 2 && buf[0] == 100 && buf[1] == 101);
    OK(shmkit_queue_get_many(q2, buf, 8, -1, &n));
    CHECK(n == 2 && buf[0] == 102 && buf[1] == 103);
    EXPECT(shmkit_queue_try_get_many(q2, buf, 8, &n), SHMKIT_WOULD_BLOCK);
    CHECK(n == 0);
    n = 99;
    EXPECT(shmkit_queue_get_many(q2, buf, 8, 1000000, &n), SHMKIT_TIMEOUT);
    CHECK(n == 0);
    OK(shmkit_queue_get_many(q2, buf, 0, 0, &n));
    CHECK(n == 0);
    /* put_many waits for room: 6 into 4 slots, with a partial result on TIMEOUT. */
    for (i = 0; i < 6; i++) buf[i] = 200 + (uint64_t)i;
    EXPECT(shmkit_queue_put_many(q, buf, 6, 1000000, &n), SHMKIT_TIMEOUT);
    CHECK(n == 4);
    OK(shmkit_queue_get_many(q2, buf, 8, 0, &n));
    CHECK(n == 4 && buf[0] == 200 && buf[3] == 203);

    /* Shutdown: puts fail, gets drain then fail, the count is written on CLOSED. */
    v = 9;
    OK(shmkit_queue_put(q, &v, -1));
    OK(shmkit_queue_is_closed(q2, &flag));
    CHECK(!flag);
    OK(shmkit_queue_shutdown(q2));
    OK(shmkit_queue_is_closed(q, &flag));
    CHECK(flag);
    EXPECT(shmkit_queue_put(q, &v, -1), SHMKIT_CLOSED);
    EXPECT(shmkit_queue_try_put(q, &v), SHMKIT_CLOSED);
    n = 99;
    EXPECT(shmkit_queue_put_many(q, buf, 2, -1, &n), SHMKIT_CLOSED);
    CHECK(n == 0);
    n = 99;
    EXPECT(shmkit_queue_try_put_many(q, buf, 2, &n), SHMKIT_CLOSED);
    CHECK(n == 0);
    v = 0;
    OK(shmkit_queue_get(q, &v, -1));
    CHECK(v == 9);
    EXPECT(shmkit_queue_get(q, &v, -1), SHMKIT_CLOSED);
    EXPECT(shmkit_queue_try_get(q, &v), SHMKIT_CLOSED);
    n = 99;
    EXPECT(shmkit_queue_get_many(q, buf, 2, -1, &n), SHMKIT_CLOSED);
    CHECK(n == 0);
    EXPECT(shmkit_queue_try_get_many(q, buf, 2, &n), SHMKIT_CLOSED);
    CHECK(strlen(shmkit_status_message(SHMKIT_CLOSED)) > 0);

    /* Closed handles are NULL: every later call is SHMKIT_NULL_ARGUMENT. */
    OK(shmkit_queue_close(&q2));
    CHECK(q2 == NULL);
    OK(shmkit_queue_close(&q2));
    EXPECT(shmkit_queue_put(q2, &v, 0), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_len(q2, &n), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_queue_close(&q));
    EXPECT(shmkit_queue_open(name, &u64_type, &q), SHMKIT_NOT_FOUND);

    /* open_or_create: creates, then opens (keeping the first capacity). */
    OK(shmkit_queue_open_or_create(name, &msg_type, 16, &q));
    OK(shmkit_queue_open_or_create(name, &msg_type, 2, &q2));
    OK(shmkit_queue_capacity(q2, &n));
    CHECK(n == 16);
    OK(shmkit_queue_close(&q2));

    /* A fork()ed producer and consumer: 100,000 sequenced messages, in order. */
    pid = fork();
    if (pid == 0) {
        shmkit_queue *p = NULL;
        struct msg m = {0, 0xabcd, 0};
        if (shmkit_queue_open(name, &msg_type, &p) != SHMKIT_OK) _exit(2);
        for (m.seq = 0; m.seq < MESSAGES; m.seq++) {
            if (m.seq % 1000 == 999) {
                struct msg batch[3];
                size_t put = 0;
                int k;
                for (k = 0; k < 3 && m.seq < MESSAGES; k++, m.seq++) batch[k] = m;
                m.seq--;
                if (shmkit_queue_put_many(p, batch, (size_t)k, -1, &put) != SHMKIT_OK ||
                    put != (size_t)k)
                    _exit(3);
            } else if (shmkit_queue_put(p, &m, -1) != SHMKIT_OK) {
                _exit(4);
            }
        }
        if (shmkit_queue_close(&p) != SHMKIT_OK) _exit(5);
        _exit(0);
    }
    CHECK(pid > 0);
    {
        uint64_t expect = 0;
        struct msg got[16];
        int bad = 0;
        while (expect < MESSAGES && !bad) {
            size_t k = 0, t;
            if (expect % 2) {
                shmkit_status s = shmkit_queue_get_many(q, got, 16, 10000000000LL, &k);
                if (s != SHMKIT_OK) bad = 1;
            } else {
                if (shmkit_queue_get(q, got, 10000000000LL) != SHMKIT_OK) bad = 1;
                k = 1;
            }
            for (t = 0; t < k && !bad; t++, expect++)
                if (got[t].seq != expect || got[t].tag != 0xabcd) bad = 1;
        }
        CHECK(!bad);
        CHECK(expect == MESSAGES);
    }
    CHECK(wait_child(pid) == 0);
    CHECK(len_of(q) == 0);
    OK(shmkit_queue_close(&q));

    /* Joinable: task_done and join across fork. */
    OK(shmkit_joinable_queue_create(jname, &u64_type, 8, &j));
    EXPECT(shmkit_queue_open(jname, &u64_type, &q), SHMKIT_KIND_MISMATCH);
    EXPECT(shmkit_queue_open_or_create(jname, &u64_type, 8, &q), SHMKIT_KIND_MISMATCH);
    EXPECT(shmkit_queue_task_done(j), SHMKIT_INVALID_ARGUMENT);
    OK(shmkit_queue_join_timeout(j, 0, &flag));
    CHECK(flag); /* nothing put: done at once */
    OK(shmkit_queue_join(j));
    for (v = 1; v <= 5; v++) OK(shmkit_queue_put(j, &v, -1));
    OK(shmkit_queue_unfinished(j, &unfinished));
    CHECK(unfinished == 5);
    flag = true;
    OK(shmkit_queue_join_timeout(j, 1000000, &flag));
    CHECK(!flag); /* the time ran out: OK with false */
    pid = fork();
    if (pid == 0) {
        shmkit_queue *w = NULL;
        uint64_t x, want = 1;
        if (shmkit_joinable_queue_open(jname, &u64_type, &w) != SHMKIT_OK) _exit(2);
        for (want = 1; want <= 5; want++) {
            if (shmkit_queue_get(w, &x, 10000000000LL) != SHMKIT_OK || x != want) _exit(3);
            if (shmkit_queue_task_done(w) != SHMKIT_OK) _exit(4);
        }
        if (shmkit_queue_close(&w) != SHMKIT_OK) _exit(5);
        _exit(0);
    }
    CHECK(pid > 0);
    OK(shmkit_queue_join(j));
    OK(shmkit_queue_unfinished(j, &unfinished));
    CHECK(unfinished == 0);
    OK(shmkit_queue_join_timeout(j, -1, &flag));
    CHECK(flag);
    CHECK(wait_child(pid) == 0);
    OK(shmkit_queue_close(&j));

    return finish();
}
