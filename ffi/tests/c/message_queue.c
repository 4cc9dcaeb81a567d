/* shmkit_message_queue_*: byte messages of any length, between processes. */
#include "check.h"

#define MESSAGES 20000

static size_t len_of(const shmkit_message_queue *q) {
    size_t n = 99;
    OK(shmkit_message_queue_len(q, &n));
    return n;
}

/* Message i: i as 4 bytes, then (i % 61) bytes of (i & 0xff). */
static size_t make_msg(uint32_t i, unsigned char *buf) {
    size_t len = 4 + i % 61;
    memcpy(buf, &i, 4);
    memset(buf + 4, (int)(i & 0xff), len - 4);
    return len;
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("mq");
    shmkit_message_queue *q = NULL, *q2 = NULL;
    unsigned char buf[256], want[256];
    size_t n = 0, len = 0;
    bool flag = false;
    pid_t pid;
    uint32_t i;

    /* NULL arguments, bad sizes, missing segments. */
    EXPECT(shmkit_message_queue_create(NULL, 256, 64, &q), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_create(name, 256, 64, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_open(NULL, &q), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_open_or_create(name, 256, 64, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_open(name, &q), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_message_queue_create(name, 0, 0, &q), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_message_queue_create(name, 64, 65, &q), SHMKIT_INVALID_ARGUMENT);
    CHECK(q == NULL);
    EXPECT(shmkit_message_queue_put(NULL, buf, 1, -1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_try_put(NULL, buf, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_get(NULL, buf, 1, -1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_try_get(NULL, buf, 1, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_len(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_bytes_used(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_capacity_bytes(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_max_message(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_is_closed(NULL, &flag), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_shutdown(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_close(NULL), SHMKIT_NULL_ARGUMENT);

    OK(shmkit_message_queue_create(name, 128, 64, &q));
    EXPECT(shmkit_message_queue_create(name, 128, 64, &q2), SHMKIT_ALREADY_EXISTS);
    OK(shmkit_message_queue_open(name, &q2));
    EXPECT(shmkit_message_queue_put(q, NULL, 1, -1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_get(q, NULL, 1, 0, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_get(q, buf, 1, 0, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_message_queue_len(q, NULL), SHMKIT_NULL_ARGUMENT);
    {
        shmkit_event *e = NULL;
        OK(shmkit_event_create(name_of("mq-event"), &e));
        shmkit_message_queue *k = NULL;
        EXPECT(shmkit_message_queue_open(name_of("mq-event"), &k), SHMKIT_KIND_MISMATCH);
        CHECK(k == NULL);
        EXPECT(shmkit_message_queue_len((const shmkit_message_queue *)(const void *)e, &n),
               SHMKIT_INVALID_HANDLE);
        OK(shmkit_event_close(&e));
    }
    OK(shmkit_message_queue_max_message(q2, &n));
    CHECK(n == 64);
    OK(shmkit_message_queue_capacity_bytes(q2, &n));
    CHECK(n == 136);

    /* Boundaries, empty messages, FIFO; TOO_LARGE; full and empty with timeouts. */
    OK(shmkit_message_queue_put(q, "hello", 5, -1));
    OK(shmkit_message_queue_put(q, NULL, 0, -1));
    OK(shmkit_message_queue_try_put(q, "world!", 6));
    EXPECT(shmkit_message_queue_put(q, buf, 65, -1), SHMKIT_TOO_LARGE);
    CHECK(len_of(q2) == 3);
    OK(shmkit_message_queue_bytes_used(q2, &n));
    CHECK(n == 16 + 8 + 16);
    OK(shmkit_message_queue_put(q, buf, 64, 0)); /* 72 more bytes: 112 of 136 */
    EXPECT(shmkit_message_queue_try_put(q, buf, 20), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_message_queue_put(q, buf, 20, 1000000), SHMKIT_TIMEOUT);
    len = 99;
    OK(shmkit_message_queue_get(q2, buf, sizeof buf, -1, &len));
    CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
    OK(shmkit_message_queue_try_get(q2, NULL, 0, &len));
    CHECK(len == 0);
    /* Too small a buffer: the size needed, the message stays. */
    len = 0;
    EXPECT(shmkit_message_queue_get(q2, buf, 3, -1, &len), SHMKIT_BUFFER_TOO_SMALL);
    CHECK(len == 6);
    EXPECT(shmkit_message_queue_try_get(q2, NULL, 0, &len), SHMKIT_BUFFER_TOO_SMALL);
    CHECK(len == 6);
    OK(shmkit_message_queue_get(q2, buf, 6, 0, &len));
    CHECK(len == 6 && memcmp(buf, "world!", 6) == 0);
    OK(shmkit_message_queue_get(q2, buf, sizeof buf, 0, &len));
    CHECK(len == 64);
    len = 77;
    EXPECT(shmkit_message_queue_try_get(q2, buf, sizeof buf, &len), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_message_queue_get(q2, buf, sizeof buf, 1000000, &len), SHMKIT_TIMEOUT);
    CHECK(len == 77); /* not written on failure */
    CHECK(len_of(q) == 0);

    /* A forked producer and this consumer, through a ring much smaller than the
       traffic. */
    pid = fork();
    if (pid == 0) {
        shmkit_message_queue *p = NULL;
        if (shmkit_message_queue_open(name, &p) != SHMKIT_OK) _exit(2);
        for (i = 0; i < MESSAGES; i++) {
            n = make_msg(i, buf);
            if (shmkit_message_queue_put(p, buf, n, -1) != SHMKIT_OK) _exit(3);
        }
        shmkit_message_queue_close(&p);
        _exit(0);
    }
    for (i = 0; i < MESSAGES; i++) {
        n = make_msg(i, want);
        len = 0;
        OK(shmkit_message_queue_get(q2, buf, sizeof buf, 10000000000LL, &len));
        if (len != n || memcmp(buf, want, n) != 0) {
            CHECK(!"message mismatch");
            break;
        }
    }
    CHECK(wait_child(pid) == 0);

    /* Shutdown: puts fail, gets drain then fail. */
    OK(shmkit_message_queue_put(q, "last", 4, -1));
    OK(shmkit_message_queue_shutdown(q2));
    OK(shmkit_message_queue_is_closed(q, &flag));
    CHECK(flag);
    EXPECT(shmkit_message_queue_put(q, "x", 1, -1), SHMKIT_CLOSED);
    EXPECT(shmkit_message_queue_try_put(q, "x", 1), SHMKIT_CLOSED);
    OK(shmkit_message_queue_get(q, buf, sizeof buf, -1, &len));
    CHECK(len == 4);
    EXPECT(shmkit_message_queue_get(q, buf, sizeof buf, -1, &len), SHMKIT_CLOSED);
    EXPECT(shmkit_message_queue_try_get(q, buf, sizeof buf, &len), SHMKIT_CLOSED);

    OK(shmkit_message_queue_close(&q2));
    CHECK(q2 == NULL);
    OK(shmkit_message_queue_close(&q2)); /* NULL handle: no-op */
    EXPECT(shmkit_message_queue_len(q2, &n), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_message_queue_close(&q));
    EXPECT(shmkit_message_queue_open(name, &q), SHMKIT_NOT_FOUND);
    return finish();
}
