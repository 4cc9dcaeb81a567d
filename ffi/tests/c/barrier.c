/* shmkit_barrier_*: the named barrier, between processes. */
#include "check.h"

#include <sched.h>
#include <time.h>

#define PARTIES 4
#define SECONDS(n) ((int64_t)(n) * 1000 * 1000 * 1000)

static uint32_t n_waiting(const shmkit_barrier *b) {
    uint32_t n = 12345;
    OK(shmkit_barrier_n_waiting(b, &n));
    return n;
}

static bool is_broken(const shmkit_barrier *b) {
    bool broken = false;
    OK(shmkit_barrier_is_broken(b, &broken));
    return broken;
}

/* Waits (at most 30 s) until `n` parties wait at the barrier. */
static void until_waiting(const shmkit_barrier *b, uint32_t n) {
    time_t start = time(NULL);
    while (n_waiting(b) != n && time(NULL) - start < 30) sched_yield();
    CHECK(n_waiting(b) == n);
}

/* A child party: exits with 100 + its arrival index, or a small error code. */
static int party(const char *name, int rounds) {
    shmkit_barrier *b = NULL;
    uint32_t index = 0;
    int r;
    if (shmkit_barrier_open(name, &b) != SHMKIT_OK) return 10;
    for (r = 0; r < rounds; r++)
        if (shmkit_barrier_wait_timeout(b, SECONDS(30), &index) != SHMKIT_OK) return 11;
    shmkit_barrier_close(&b);
    return 100 + (int)index;
}

/* A child that waits until the barrier breaks: exit 0 if it gets SHMKIT_BROKEN_BARRIER. */
static int expect_broken(const char *name) {
    shmkit_barrier *b = NULL;
    shmkit_status s;
    if (shmkit_barrier_open(name, &b) != SHMKIT_OK) return 10;
    s = shmkit_barrier_wait(b, NULL);
    shmkit_barrier_close(&b);
    return s == SHMKIT_BROKEN_BARRIER ? 0 : 20 + (int)s;
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("barrier");
    const char *one = name_of("barrier-one");
    const char *two = name_of("barrier-two");
    shmkit_barrier *b = NULL, *b1 = NULL, *b2 = NULL;
    uint32_t index = 999, n = 0;
    bool broken = true;
    pid_t pid;
    int i, round;

    /* NULL arguments, bad names and party counts, missing segments. */
    EXPECT(shmkit_barrier_create(NULL, 2, &b), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_create(name, 2, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_open(NULL, &b), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_open_or_create(NULL, 2, &b), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_open_or_create(name, 2, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_open(name, &b), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_barrier_create("a/b", 2, &b), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_barrier_create(name, 0, &b), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_barrier_create(name, 65536, &b), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_barrier_open_or_create(name, 0, &b), SHMKIT_INVALID_ARGUMENT);
    CHECK(b == NULL);
    EXPECT(shmkit_barrier_open(name, &b), SHMKIT_NOT_FOUND); /* nothing was left behind */

    EXPECT(shmkit_barrier_wait(NULL, &index), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_wait_timeout(NULL, 1, &index), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_abort(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_reset(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_parties(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_n_waiting(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_is_broken(NULL, &broken), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_close(NULL), SHMKIT_NULL_ARGUMENT);
    CHECK(index == 999);

    /* One party: every wait passes at once, with index 0; the index is optional. */
    OK(shmkit_barrier_create(one, 1, &b1));
    EXPECT(shmkit_barrier_create(one, 1, &b), SHMKIT_ALREADY_EXISTS);
    EXPECT(shmkit_barrier_parties(b1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_n_waiting(b1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_is_broken(b1, NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_barrier_parties(b1, &n));
    CHECK(n == 1);
    OK(shmkit_barrier_wait(b1, &index));
    CHECK(index == 0);
    OK(shmkit_barrier_wait(b1, NULL));
    index = 999;
    OK(shmkit_barrier_wait_timeout(b1, 0, &index));
    CHECK(index == 0);
    OK(shmkit_barrier_wait_timeout(b1, -1, NULL));
    CHECK(n_waiting(b1) == 0);
    CHECK(!is_broken(b1));

    /* abort breaks it until reset. */
    OK(shmkit_barrier_abort(b1));
    OK(shmkit_barrier_abort(b1));
    CHECK(is_broken(b1));
    index = 999;
    EXPECT(shmkit_barrier_wait(b1, &index), SHMKIT_BROKEN_BARRIER);
    CHECK(strstr(shmkit_last_error_message(), "broken") != NULL);
    EXPECT(shmkit_barrier_wait_timeout(b1, SECONDS(1), &index), SHMKIT_BROKEN_BARRIER);
    CHECK(index == 999); /* not written on failure */
    OK(shmkit_barrier_reset(b1));
    CHECK(!is_broken(b1));
    OK(shmkit_barrier_wait(b1, &index));
    CHECK(index == 0);

    /* Wrong kinds and handles. */
    {
        shmkit_event *e = NULL;
        shmkit_barrier *k = NULL;
        EXPECT(shmkit_event_open(one, &e), SHMKIT_KIND_MISMATCH);
        OK(shmkit_event_create(name_of("barrier-event"), &e));
        EXPECT(shmkit_barrier_open(name_of("barrier-event"), &k), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_barrier_open_or_create(name_of("barrier-event"), 2, &k),
               SHMKIT_KIND_MISMATCH);
        CHECK(k == NULL);
        EXPECT(shmkit_barrier_wait((const shmkit_barrier *)(const void *)e, NULL),
               SHMKIT_INVALID_HANDLE);
        EXPECT(shmkit_event_set((const shmkit_event *)(const void *)b1), SHMKIT_INVALID_HANDLE);
        OK(shmkit_event_close(&e));
    }

    /* A timed-out party breaks the barrier for everyone; reset repairs it. */
    OK(shmkit_barrier_create(two, 2, &b2));
    EXPECT(shmkit_barrier_wait_timeout(b2, 5 * 1000 * 1000, &index), SHMKIT_TIMEOUT);
    CHECK(strstr(shmkit_last_error_message(), "timed out") != NULL);
    CHECK(is_broken(b2));
    EXPECT(shmkit_barrier_wait(b2, NULL), SHMKIT_BROKEN_BARRIER);
    OK(shmkit_barrier_reset(b2));
    CHECK(!is_broken(b2));

    /* PARTIES processes (the parent and PARTIES - 1 children) pass together, twice;
     * each round hands out every index 0 .. PARTIES - 1 exactly once, and exactly one
     * party (the last to arrive) gets PARTIES - 1. */
    OK(shmkit_barrier_create(name, PARTIES, &b));
    OK(shmkit_barrier_parties(b, &n));
    CHECK(n == PARTIES);
    for (round = 1; round <= 2; round++) {
        pid_t kids[PARTIES - 1];
        int seen[PARTIES] = {0};
        uint32_t mine = 999;
        for (i = 0; i < PARTIES - 1; i++) {
            kids[i] = fork();
            if (kids[i] == 0) _exit(party(name, round));
        }
        for (i = 1; i < round; i++) OK(shmkit_barrier_wait(b, NULL)); /* earlier rounds */
        OK(shmkit_barrier_wait_timeout(b, SECONDS(30), &mine));
        CHECK(mine < PARTIES);
        if (mine < PARTIES) seen[mine]++;
        for (i = 0; i < PARTIES - 1; i++) {
            int code = wait_child(kids[i]);
            CHECK(code >= 100 && code < 100 + PARTIES);
            if (code >= 100 && code < 100 + PARTIES) seen[code - 100]++;
        }
        for (i = 0; i < PARTIES; i++) CHECK(seen[i] == 1);
        CHECK(n_waiting(b) == 0);
        CHECK(!is_broken(b));
    }

    /* abort, a reset, and another party's timeout wake a waiting child with
     * SHMKIT_BROKEN_BARRIER. */
    for (round = 0; round < 2; round++) {
        pid = fork();
        if (pid == 0) _exit(expect_broken(two));
        until_waiting(b2, 1);
        if (round == 0) {
            OK(shmkit_barrier_abort(b2));
        } else {
            OK(shmkit_barrier_reset(b2));
        }
        CHECK(wait_child(pid) == 0);
        OK(shmkit_barrier_reset(b2));
    }
    {
        const char *three_name = name_of("barrier-three");
        shmkit_barrier *three = NULL;
        OK(shmkit_barrier_create(three_name, 3, &three));
        pid = fork();
        if (pid == 0) _exit(expect_broken(three_name));
        until_waiting(three, 1);
        EXPECT(shmkit_barrier_wait_timeout(three, 5 * 1000 * 1000, NULL), SHMKIT_TIMEOUT);
        CHECK(wait_child(pid) == 0);
        CHECK(is_broken(three));
        OK(shmkit_barrier_close(&three));
    }

    /* open_or_create: an existing barrier keeps its party count. */
    {
        shmkit_barrier *f = NULL, *f2 = NULL;
        OK(shmkit_barrier_open_or_create(name_of("barrier-fresh"), 3, &f));
        OK(shmkit_barrier_open_or_create(name_of("barrier-fresh"), 7, &f2));
        OK(shmkit_barrier_parties(f2, &n));
        CHECK(n == 3);
        OK(shmkit_barrier_close(&f2));
        OK(shmkit_barrier_close(&f));
        EXPECT(shmkit_barrier_open(name_of("barrier-fresh"), &f), SHMKIT_NOT_FOUND);
    }

    /* Closed handles are NULL; closing twice is harmless. */
    OK(shmkit_barrier_close(&b2));
    OK(shmkit_barrier_close(&b1));
    OK(shmkit_barrier_close(&b));
    CHECK(b == NULL);
    OK(shmkit_barrier_close(&b));
    EXPECT(shmkit_barrier_wait(b, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_barrier_abort(b), SHMKIT_NULL_ARGUMENT);
    return finish();
}
