/* shmkit_event_*: the named event flag, between processes. */
#include "check.h"

#define WAITERS 3

static bool is_set(const shmkit_event *e) {
    bool set = false;
    OK(shmkit_event_is_set(e, &set));
    return set;
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("event");
    const char *fresh = name_of("event-fresh");
    shmkit_event *e = NULL, *e2 = NULL;
    bool set = true;
    int to_child[2], to_parent[2];
    pid_t pid;
    int i;

    /* NULL arguments, bad names, missing segments. */
    EXPECT(shmkit_event_create(NULL, &e), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_create(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_open(NULL, &e), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_open_or_create(NULL, &e), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_open_or_create(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_open(name, &e), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_event_create(".dot", &e), SHMKIT_INVALID_NAME);
    CHECK(e == NULL);

    EXPECT(shmkit_event_set(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_clear(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_is_set(NULL, &set), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_wait(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_wait_timeout(NULL, 1, &set), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_close(NULL), SHMKIT_NULL_ARGUMENT);

    OK(shmkit_event_create(name, &e));
    EXPECT(shmkit_event_create(name, &e2), SHMKIT_ALREADY_EXISTS);
    OK(shmkit_event_open(name, &e2));
    EXPECT(shmkit_event_is_set(e, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_wait_timeout(e, 1, NULL), SHMKIT_NULL_ARGUMENT);

    /* Wrong kinds and handles. */
    {
        shmkit_mutex *m = NULL;
        shmkit_event *k = NULL;
        EXPECT(shmkit_mutex_open(name, &m), SHMKIT_KIND_MISMATCH);
        OK(shmkit_mutex_create(name_of("event-mutex"), &m));
        EXPECT(shmkit_event_open(name_of("event-mutex"), &k), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_event_open_or_create(name_of("event-mutex"), &k), SHMKIT_KIND_MISMATCH);
        CHECK(k == NULL);
        EXPECT(shmkit_event_wait((const shmkit_event *)(const void *)m), SHMKIT_INVALID_HANDLE);
        EXPECT(shmkit_mutex_lock((const shmkit_mutex *)(const void *)e), SHMKIT_INVALID_HANDLE);
        OK(shmkit_mutex_close(&m));
    }

    /* Clear: a bounded wait times out, which is not a failure. */
    CHECK(!is_set(e));
    OK(shmkit_event_wait_timeout(e, 1000 * 1000, &set));
    CHECK(!set);
    set = true;
    OK(shmkit_event_wait_timeout(e, 0, &set));
    CHECK(!set);

    /* Set: every form of wait returns at once; clear undoes it. */
    OK(shmkit_event_set(e2));
    OK(shmkit_event_set(e2)); /* already set: nothing changes */
    CHECK(is_set(e));
    OK(shmkit_event_wait(e));
    OK(shmkit_event_wait_timeout(e, 0, &set));
    CHECK(set);
    set = false;
    OK(shmkit_event_wait_timeout(e, -1, &set));
    CHECK(set);
    OK(shmkit_event_clear(e));
    OK(shmkit_event_clear(e));
    CHECK(!is_set(e2));

    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);

    /* An event set in a child wakes the parent blocked in wait. */
    pid = fork();
    if (pid == 0) {
        shmkit_event *mine = NULL;
        wait_byte(to_child[0]);
        if (shmkit_event_open(name, &mine) != SHMKIT_OK) _exit(10);
        if (shmkit_event_set(mine) != SHMKIT_OK) _exit(11);
        shmkit_event_close(&mine);
        _exit(0);
    }
    send_byte(to_child[1]);
    OK(shmkit_event_wait(e));
    CHECK(is_set(e));
    CHECK(wait_child(pid) == 0);
    OK(shmkit_event_clear(e));

    /* Several children wait with a bound; one set in the parent wakes them all. */
    {
        pid_t kids[WAITERS];
        for (i = 0; i < WAITERS; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                shmkit_event *mine = NULL;
                bool got = false;
                if (shmkit_event_open(name, &mine) != SHMKIT_OK) _exit(10);
                send_byte(to_parent[1]);
                if (shmkit_event_wait_timeout(mine, 30LL * 1000 * 1000 * 1000, &got) != SHMKIT_OK)
                    _exit(11);
                shmkit_event_close(&mine);
                _exit(got ? 0 : 12);
            }
        }
        for (i = 0; i < WAITERS; i++) wait_byte(to_parent[0]);
        OK(shmkit_event_set(e));
        for (i = 0; i < WAITERS; i++) CHECK(wait_child(kids[i]) == 0);
    }

    /* A child that waits on a clear event with a short bound is told "not set". */
    OK(shmkit_event_clear(e));
    pid = fork();
    if (pid == 0) {
        shmkit_event *mine = NULL;
        bool got = true;
        if (shmkit_event_open(name, &mine) != SHMKIT_OK) _exit(10);
        if (shmkit_event_wait_timeout(mine, 5 * 1000 * 1000, &got) != SHMKIT_OK) _exit(11);
        shmkit_event_close(&mine);
        _exit(got ? 12 : 0);
    }
    CHECK(wait_child(pid) == 0);

    /* open_or_create: a missing one is made clear; an existing one is opened. */
    {
        shmkit_event *f = NULL, *f2 = NULL;
        OK(shmkit_event_open_or_create(fresh, &f));
        CHECK(!is_set(f));
        OK(shmkit_event_set(f));
        OK(shmkit_event_open_or_create(fresh, &f2));
        CHECK(is_set(f2));
        OK(shmkit_event_close(&f2));
        OK(shmkit_event_close(&f));
        EXPECT(shmkit_event_open(fresh, &f), SHMKIT_NOT_FOUND);
    }

    /* Closed handles are NULL; closing twice is harmless. */
    OK(shmkit_event_close(&e2));
    OK(shmkit_event_close(&e));
    CHECK(e == NULL);
    OK(shmkit_event_close(&e));
    EXPECT(shmkit_event_set(e), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_event_wait(e), SHMKIT_NULL_ARGUMENT);
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
    return finish();
}
