/* shmkit_semaphore_*: counting semaphores, bounded and not, between processes. */
#include "check.h"

#include <time.h>

#define WORKERS 5
#define SLOTS 2

static const shmkit_type i64_type = SHMKIT_TYPE(int64_t, "i64");

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint32_t value_of(const shmkit_semaphore *s) {
    uint32_t v = 12345;
    OK(shmkit_semaphore_value(s, &v));
    return v;
}

/* A worker: inside the section (counted in `inside`, the largest count seen in `most`)
 * only while holding a permit. */
static int worker(const char *sem_name, const char *inside_name, const char *most_name) {
    shmkit_semaphore *s = NULL;
    shmkit_value *inside = NULL, *most = NULL;
    int64_t now = 0, seen = 0;
    bool exchanged = false;
    if (shmkit_semaphore_open(sem_name, &s) != SHMKIT_OK) return 10;
    if (shmkit_value_open(inside_name, &i64_type, &inside) != SHMKIT_OK) return 11;
    if (shmkit_value_open(most_name, &i64_type, &most) != SHMKIT_OK) return 12;
    if (shmkit_semaphore_acquire_timeout(s, 30LL * 1000 * 1000 * 1000) != SHMKIT_OK) return 13;
    if (shmkit_value_fetch_add_i64(inside, 1, &now) != SHMKIT_OK) return 14;
    now += 1;
    do {
        if (shmkit_value_load_i64(most, &seen) != SHMKIT_OK) return 15;
        if (now <= seen) break;
        if (shmkit_value_compare_exchange_i64(most, seen, now, &exchanged, NULL) != SHMKIT_OK)
            return 16;
    } while (!exchanged);
    sleep_ms(20); /* the "work", to overlap with the others */
    if (shmkit_value_fetch_add_i64(inside, -1, NULL) != SHMKIT_OK) return 17;
    if (shmkit_semaphore_release(s) != SHMKIT_OK) return 18;
    shmkit_value_close(&most);
    shmkit_value_close(&inside);
    shmkit_semaphore_close(&s);
    return 0;
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("sem");
    const char *bname = name_of("bsem");
    const char *full = name_of("sem-full");
    const char *fresh = name_of("sem-fresh");
    shmkit_semaphore *s = NULL, *s2 = NULL, *b = NULL, *f = NULL;
    uint32_t v = 0;
    int i;

    /* NULL arguments, bad names, missing segments. */
    EXPECT(shmkit_semaphore_create(NULL, 1, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_create(name, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_create_bounded(NULL, 1, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_create_bounded(name, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open(NULL, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open_bounded(NULL, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open_bounded(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open_or_create(NULL, 1, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open_or_create(name, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open_or_create_bounded(NULL, 1, &s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open_or_create_bounded(name, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_open(name, &s), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_semaphore_open_bounded(name, &s), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_semaphore_create("", 1, &s), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_semaphore_create_bounded("x/y", 1, &s), SHMKIT_INVALID_NAME);
    CHECK(s == NULL);

    EXPECT(shmkit_semaphore_acquire(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_try_acquire(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_acquire_timeout(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_release(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_release_n(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_value(NULL, &v), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_close(NULL), SHMKIT_NULL_ARGUMENT);

    /* Unbounded: permits, would-block, timeouts, release_n. */
    OK(shmkit_semaphore_create(name, SLOTS, &s));
    EXPECT(shmkit_semaphore_create(name, 1, &s2), SHMKIT_ALREADY_EXISTS);
    EXPECT(shmkit_semaphore_value(s, NULL), SHMKIT_NULL_ARGUMENT);
    CHECK(value_of(s) == SLOTS);
    OK(shmkit_semaphore_try_acquire(s));
    OK(shmkit_semaphore_acquire(s));
    CHECK(value_of(s) == 0);
    EXPECT(shmkit_semaphore_try_acquire(s), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_semaphore_acquire_timeout(s, 10 * 1000 * 1000), SHMKIT_TIMEOUT);
    CHECK(strstr(shmkit_last_error_message(), "timed out") != NULL);
    EXPECT(shmkit_semaphore_acquire_timeout(s, 0), SHMKIT_TIMEOUT);
    OK(shmkit_semaphore_release(s));
    OK(shmkit_semaphore_acquire_timeout(s, 0));
    OK(shmkit_semaphore_release_n(s, 3));
    OK(shmkit_semaphore_release_n(s, 0));
    CHECK(value_of(s) == 3); /* unbounded: above its initial value */
    OK(shmkit_semaphore_acquire_timeout(s, -1));
    OK(shmkit_semaphore_open(name, &s2));
    CHECK(value_of(s2) == 2);
    OK(shmkit_semaphore_acquire(s2));
    OK(shmkit_semaphore_acquire(s2));
    CHECK(value_of(s) == 0);
    OK(shmkit_semaphore_release_n(s, SLOTS));

    /* Overflow of an unbounded one is an over-release too; nothing changes. */
    OK(shmkit_semaphore_create(full, UINT32_MAX, &f));
    EXPECT(shmkit_semaphore_release(f), SHMKIT_OVER_RELEASE);
    EXPECT(shmkit_semaphore_release_n(f, 5), SHMKIT_OVER_RELEASE);
    CHECK(value_of(f) == UINT32_MAX);
    OK(shmkit_semaphore_close(&f));

    /* Bounded: never above its initial value. */
    OK(shmkit_semaphore_create_bounded(bname, 2, &b));
    EXPECT(shmkit_semaphore_release(b), SHMKIT_OVER_RELEASE);
    CHECK(strstr(shmkit_last_error_message(), "at most 2") != NULL);
    OK(shmkit_semaphore_try_acquire(b));
    EXPECT(shmkit_semaphore_release_n(b, 2), SHMKIT_OVER_RELEASE);
    CHECK(value_of(b) == 1);
    OK(shmkit_semaphore_release_n(b, 1));
    CHECK(value_of(b) == 2);
    {
        shmkit_semaphore *b2 = NULL;
        OK(shmkit_semaphore_open_bounded(bname, &b2));
        OK(shmkit_semaphore_close(&b2));
        OK(shmkit_semaphore_open_or_create_bounded(bname, 7, &b2)); /* exists: opened */
        CHECK(value_of(b2) == 2);
        EXPECT(shmkit_semaphore_release(b2), SHMKIT_OVER_RELEASE);
        OK(shmkit_semaphore_close(&b2));
    }

    /* A bounded one is not an unbounded one, and neither is anything else. */
    {
        shmkit_semaphore *k = NULL;
        shmkit_event *e = NULL;
        EXPECT(shmkit_semaphore_open(bname, &k), SHMKIT_KIND_MISMATCH);
        CHECK(strstr(shmkit_last_error_message(), "bounded semaphore") != NULL);
        EXPECT(shmkit_semaphore_open_bounded(name, &k), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_semaphore_open_or_create(bname, 1, &k), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_semaphore_open_or_create_bounded(name, 1, &k), SHMKIT_KIND_MISMATCH);
        CHECK(k == NULL);
        EXPECT(shmkit_event_open(name, &e), SHMKIT_KIND_MISMATCH);
        OK(shmkit_event_create(name_of("sem-event"), &e));
        EXPECT(shmkit_semaphore_open(name_of("sem-event"), &k), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_semaphore_release((const shmkit_semaphore *)(const void *)e),
               SHMKIT_INVALID_HANDLE);
        EXPECT(shmkit_event_set((const shmkit_event *)(const void *)s), SHMKIT_INVALID_HANDLE);
        OK(shmkit_event_close(&e));
    }

    /* open_or_create makes a missing one, with the given value. */
    OK(shmkit_semaphore_open_or_create(fresh, 3, &f));
    CHECK(value_of(f) == 3);
    {
        shmkit_semaphore *f2 = NULL;
        OK(shmkit_semaphore_open_or_create(fresh, 9, &f2)); /* exists: opened */
        CHECK(value_of(f2) == 3);
        OK(shmkit_semaphore_close(&f2));
    }
    OK(shmkit_semaphore_close(&f));
    EXPECT(shmkit_semaphore_open(fresh, &f), SHMKIT_NOT_FOUND); /* the creator removed it */
    OK(shmkit_semaphore_open_or_create_bounded(fresh, 1, &f));
    EXPECT(shmkit_semaphore_release(f), SHMKIT_OVER_RELEASE);
    OK(shmkit_semaphore_close(&f));

    /* A release in another process wakes a blocked acquire. */
    {
        int to_child[2];
        pid_t pid;
        CHECK(value_of(s) == SLOTS);
        OK(shmkit_semaphore_acquire(s));
        OK(shmkit_semaphore_acquire(s));
        CHECK(pipe(to_child) == 0);
        pid = fork();
        if (pid == 0) {
            shmkit_semaphore *mine = NULL;
            wait_byte(to_child[0]);
            if (shmkit_semaphore_open(name, &mine) != SHMKIT_OK) _exit(10);
            if (shmkit_semaphore_release(mine) != SHMKIT_OK) _exit(11);
            shmkit_semaphore_close(&mine);
            _exit(0);
        }
        send_byte(to_child[1]);
        OK(shmkit_semaphore_acquire(s)); /* blocks until the child's release */
        CHECK(wait_child(pid) == 0);
        OK(shmkit_semaphore_release_n(s, SLOTS));
        close(to_child[0]);
        close(to_child[1]);
    }

    /* Only SLOTS of WORKERS processes are inside at once. */
    {
        const char *inside_name = name_of("sem-inside");
        const char *most_name = name_of("sem-most");
        shmkit_value *inside = NULL, *most = NULL;
        const int64_t zero = 0;
        int64_t got = -1;
        pid_t kids[WORKERS];
        OK(shmkit_value_create(inside_name, &i64_type, &zero, &inside));
        OK(shmkit_value_create(most_name, &i64_type, &zero, &most));
        for (i = 0; i < WORKERS; i++) {
            kids[i] = fork();
            if (kids[i] == 0) _exit(worker(name, inside_name, most_name));
        }
        for (i = 0; i < WORKERS; i++) CHECK(wait_child(kids[i]) == 0);
        OK(shmkit_value_load_i64(most, &got));
        CHECK(got >= 1 && got <= SLOTS);
        OK(shmkit_value_load_i64(inside, &got));
        CHECK(got == 0);
        CHECK(value_of(s) == SLOTS);
        OK(shmkit_value_close(&inside));
        OK(shmkit_value_close(&most));
    }

    /* Closed handles are NULL; closing twice is harmless. */
    OK(shmkit_semaphore_close(&s2));
    OK(shmkit_semaphore_close(&b));
    OK(shmkit_semaphore_close(&s));
    CHECK(s == NULL);
    OK(shmkit_semaphore_close(&s));
    EXPECT(shmkit_semaphore_acquire(s), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_semaphore_release(s), SHMKIT_NULL_ARGUMENT);
    return finish();
}
