/* shmkit_queue_reserve/_commit/_abort and _get_ref/_release: elements written and read
 * in place, between processes, and a process killed while holding a slot. */
#include "check.h"

#include <signal.h>

#define FRAMES 2000
#define FRAME_BYTES 4088

struct frame {
    uint64_t seq;
    uint8_t bytes[FRAME_BYTES];
};

static const shmkit_type frame_type = SHMKIT_TYPE(struct frame, "c-zc-frame");

static uint8_t pattern(uint64_t seq) { return (uint8_t)((seq * 31) % 251); }

static int frame_ok(const struct frame *f, uint64_t seq) {
    if (f->seq != seq) return 0;
    for (size_t i = 0; i < FRAME_BYTES; i++)
        if (f->bytes[i] != pattern(seq)) return 0;
    return 1;
}

/* Child: writes FRAMES frames in place. */
static int produce(const char *name) {
    shmkit_queue *q = NULL;
    shmkit_queue_slot s;
    if (shmkit_queue_open(name, &frame_type, &q) != SHMKIT_OK) return 2;
    for (uint64_t seq = 0; seq < FRAMES; seq++) {
        if (shmkit_queue_reserve(q, -1, &s) != SHMKIT_OK) return 3;
        struct frame *f = s.data;
        f->seq = seq;
        memset(f->bytes, pattern(seq), FRAME_BYTES);
        if (shmkit_queue_commit(q, &s) != SHMKIT_OK) return 4;
        if (s.data != NULL) return 5;
    }
    shmkit_queue_close(&q);
    return 0;
}

/* Child: holds a slot (a reservation, or a taken element), signals, waits to be killed. */
static void hold(const char *name, int reserve, int fd) {
    shmkit_queue *q = NULL;
    shmkit_queue_slot s;
    if (shmkit_queue_open(name, &frame_type, &q) != SHMKIT_OK) _exit(2);
    shmkit_status st = reserve ? shmkit_queue_reserve(q, -1, &s) : shmkit_queue_get_ref(q, -1, &s);
    if (st != SHMKIT_OK) _exit(3);
    if (reserve) ((struct frame *)s.data)->seq = 666;
    send_byte(fd);
    for (;;) pause();
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("queue-zc");
    shmkit_queue *q = NULL;
    shmkit_queue_slot s, s2;
    struct frame copy;
    pid_t pid;
    int fds[2];

    /* NULL arguments. */
    EXPECT(shmkit_queue_reserve(NULL, -1, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_reserve(NULL, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_commit(NULL, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_abort(NULL, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_get_ref(NULL, -1, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_get_ref(NULL, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_release(NULL, &s), SHMKIT_NULL_ARGUMENT);

    OK(shmkit_queue_create(name, &frame_type, 4, &q));
    EXPECT(shmkit_queue_reserve(q, -1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_reserve(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_commit(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_abort(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_get_ref(q, -1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_try_get_ref(q, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_queue_release(q, NULL), SHMKIT_NULL_ARGUMENT);

    /* Empty: nothing to take, with or without a timeout. */
    EXPECT(shmkit_queue_try_get_ref(q, &s), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_queue_get_ref(q, 1000000, &s), SHMKIT_TIMEOUT);

    /* Reserve, write in place, commit; the slot ends once. */
    OK(shmkit_queue_try_reserve(q, &s));
    CHECK(s.data != NULL);
    CHECK(((uintptr_t)s.data % sizeof(uint64_t)) == 0);
    ((struct frame *)s.data)->seq = 7;
    memset(((struct frame *)s.data)->bytes, pattern(7), FRAME_BYTES);
    s2 = s;
    EXPECT(shmkit_queue_release(q, &s2), SHMKIT_INVALID_ARGUMENT); /* not a taken slot */
    CHECK(s2.data != NULL);
    OK(shmkit_queue_commit(q, &s));
    CHECK(s.data == NULL);
    EXPECT(shmkit_queue_commit(q, &s2), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_queue_abort(q, &s2), SHMKIT_INVALID_ARGUMENT);

    /* Aborted reservations are never delivered. */
    OK(shmkit_queue_reserve(q, -1, &s));
    ((struct frame *)s.data)->seq = 8;
    OK(shmkit_queue_abort(q, &s));
    CHECK(s.data == NULL);

    /* The committed frame, read in place, then by copy. */
    OK(shmkit_queue_get_ref(q, -1, &s));
    CHECK(frame_ok(s.data, 7));
    s2 = s;
    EXPECT(shmkit_queue_commit(q, &s2), SHMKIT_INVALID_ARGUMENT); /* not a reservation */
    OK(shmkit_queue_release(q, &s));
    CHECK(s.data == NULL);
    EXPECT(shmkit_queue_release(q, &s2), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_queue_try_get_ref(q, &s), SHMKIT_WOULD_BLOCK);

    /* Made-up slots change nothing. */
    s.data = NULL;
    s.pos = 123456789;
    s.stamp = 42;
    EXPECT(shmkit_queue_commit(q, &s), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_queue_release(q, &s), SHMKIT_INVALID_ARGUMENT);

    /* Another process writes in place, this one reads in place. */
    pid = fork();
    if (pid == 0) _exit(produce(name));
    for (uint64_t seq = 0; seq < FRAMES; seq++) {
        OK(shmkit_queue_get_ref(q, -1, &s));
        if (!frame_ok(s.data, seq)) {
            CHECK(!"frame content");
            break;
        }
        OK(shmkit_queue_release(q, &s));
    }
    CHECK(wait_child(pid) == 0);

    /* A producer killed holding a reservation: skipped, later elements arrive. */
    CHECK(pipe(fds) == 0);
    pid = fork();
    if (pid == 0) hold(name, 1, fds[1]);
    wait_byte(fds[0]);
    memset(&copy, 0, sizeof copy);
    copy.seq = 9;
    memset(copy.bytes, pattern(9), FRAME_BYTES);
    OK(shmkit_queue_put(q, &copy, -1));
    EXPECT(shmkit_queue_get_ref(q, 20000000, &s), SHMKIT_TIMEOUT); /* holder alive */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    OK(shmkit_queue_get_ref(q, 10000000000LL, &s));
    CHECK(frame_ok(s.data, 9));
    OK(shmkit_queue_release(q, &s));

    /* A consumer killed holding an element: its slot is freed for producers. */
    copy.seq = 10;
    memset(copy.bytes, pattern(10), FRAME_BYTES);
    OK(shmkit_queue_put(q, &copy, -1));
    pid = fork();
    if (pid == 0) hold(name, 0, fds[1]);
    wait_byte(fds[0]);
    for (int i = 0; i < 3; i++) OK(shmkit_queue_try_put(q, &copy));
    EXPECT(shmkit_queue_try_reserve(q, &s), SHMKIT_WOULD_BLOCK);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    OK(shmkit_queue_reserve(q, 10000000000LL, &s));
    ((struct frame *)s.data)->seq = 11;
    memset(((struct frame *)s.data)->bytes, pattern(11), FRAME_BYTES);
    OK(shmkit_queue_commit(q, &s));
    for (int i = 0; i < 3; i++) {
        OK(shmkit_queue_get(q, &copy, -1));
        CHECK(frame_ok(&copy, 10));
    }
    OK(shmkit_queue_get(q, &copy, -1));
    CHECK(frame_ok(&copy, 11));
    close(fds[0]);
    close(fds[1]);

    /* Closed: no reservation; takes drain, then report closed. */
    OK(shmkit_queue_put(q, &copy, -1));
    OK(shmkit_queue_shutdown(q));
    EXPECT(shmkit_queue_reserve(q, -1, &s), SHMKIT_CLOSED);
    EXPECT(shmkit_queue_try_reserve(q, &s), SHMKIT_CLOSED);
    OK(shmkit_queue_get_ref(q, -1, &s));
    OK(shmkit_queue_release(q, &s));
    EXPECT(shmkit_queue_get_ref(q, -1, &s), SHMKIT_CLOSED);
    EXPECT(shmkit_queue_try_get_ref(q, &s), SHMKIT_CLOSED);

    OK(shmkit_queue_close(&q));
    return finish();
}
