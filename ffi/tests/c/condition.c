/* shmkit_condition_*: a condition variable and its own mutex, between processes. */
#include "check.h"

#define WAITERS 3
#define SECONDS(n) ((int64_t)(n) * 1000 * 1000 * 1000)

static const shmkit_type i64_type = SHMKIT_TYPE(int64_t, "i64");

/* A child of the many-waiters case: state[0] counts the waiters in, state[1] is the
 * predicate they wait for; both touched only under the condition's mutex. */
static int waiter(const char *cond_name, const char *state_name) {
    shmkit_condition *c = NULL;
    shmkit_array *a = NULL;
    int64_t *st = NULL;
    bool notified = false;
    if (shmkit_condition_open(cond_name, &c) != SHMKIT_OK) return 10;
    if (shmkit_array_open(state_name, &i64_type, &a) != SHMKIT_OK) return 11;
    if (shmkit_array_data(a, (void **)&st) != SHMKIT_OK) return 12;
    if (shmkit_condition_lock(c) != SHMKIT_OK) return 13;
    st[0] += 1;
    if (shmkit_condition_notify_all(c) != SHMKIT_OK) return 14; /* tell the parent */
    while (!st[1]) {
        if (shmkit_condition_wait_timeout(c, SECONDS(30), &notified) != SHMKIT_OK) return 15;
        if (!notified) return 16;
    }
    if (shmkit_condition_unlock(c) != SHMKIT_OK) return 17;
    shmkit_array_close(&a);
    shmkit_condition_close(&c);
    return 0;
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("cond");
    const char *state_name = name_of("cond-state");
    shmkit_condition *c = NULL, *c2 = NULL;
    shmkit_value *v = NULL;
    bool notified = true;
    int to_child[2];
    pid_t pid;
    int i;

    /* NULL arguments, bad names, missing segments. */
    EXPECT(shmkit_condition_create(NULL, &c), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_create(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_open(NULL, &c), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_open_or_create(NULL, &c), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_open_or_create(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_open(name, &c), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_condition_create("no/slash", &c), SHMKIT_INVALID_NAME);
    CHECK(c == NULL);

    EXPECT(shmkit_condition_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_lock_timeout(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_try_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_unlock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_mark_consistent(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_wait(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_wait_timeout(NULL, 1, &notified), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_notify_one(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_notify(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_notify_all(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_close(NULL), SHMKIT_NULL_ARGUMENT);

    OK(shmkit_condition_create(name, &c));
    EXPECT(shmkit_condition_create(name, &c2), SHMKIT_ALREADY_EXISTS);
    OK(shmkit_condition_open(name, &c2));

    /* Wrong kinds and handles. */
    {
        shmkit_mutex *m = NULL;
        shmkit_condition *k = NULL;
        EXPECT(shmkit_mutex_open(name, &m), SHMKIT_KIND_MISMATCH);
        OK(shmkit_mutex_create(name_of("cond-mutex"), &m));
        EXPECT(shmkit_condition_open(name_of("cond-mutex"), &k), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_condition_open_or_create(name_of("cond-mutex"), &k), SHMKIT_KIND_MISMATCH);
        CHECK(k == NULL);
        EXPECT(shmkit_condition_wait((const shmkit_condition *)(const void *)m),
               SHMKIT_INVALID_HANDLE);
        EXPECT(shmkit_mutex_unlock((const shmkit_mutex *)(const void *)c), SHMKIT_INVALID_HANDLE);
        OK(shmkit_mutex_close(&m));
    }

    /* Waiting without holding the mutex is refused before anything happens. */
    EXPECT(shmkit_condition_wait(c), SHMKIT_NOT_LOCKED);
    EXPECT(shmkit_condition_wait_timeout(c, 1, &notified), SHMKIT_NOT_LOCKED);
    EXPECT(shmkit_condition_unlock(c), SHMKIT_NOT_LOCKED);
    EXPECT(shmkit_condition_mark_consistent(c), SHMKIT_NOT_LOCKED);
    OK(shmkit_condition_lock(c));
    EXPECT(shmkit_condition_wait_timeout(c, 1, NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_condition_unlock(c)); /* the NULL out-parameter did not release it */

    /* The mutex: held across calls, deadlock, would-block, timeouts. */
    OK(shmkit_condition_lock(c));
    EXPECT(shmkit_condition_lock(c2), SHMKIT_DEADLOCK);
    OK(shmkit_condition_mark_consistent(c));
    OK(shmkit_condition_unlock(c2)); /* the same mutex through another handle */
    EXPECT(shmkit_condition_unlock(c), SHMKIT_NOT_LOCKED);
    OK(shmkit_condition_try_lock(c));
    OK(shmkit_condition_unlock(c));
    OK(shmkit_condition_lock_timeout(c, SECONDS(1)));

    /* A timed wait with nobody notifying: SHMKIT_OK, not notified, mutex held again. */
    OK(shmkit_condition_wait_timeout(c, 1000 * 1000, &notified));
    CHECK(!notified);
    EXPECT(shmkit_condition_lock(c), SHMKIT_DEADLOCK);
    notified = true;
    OK(shmkit_condition_wait_timeout(c, 0, &notified));
    CHECK(!notified);
    OK(shmkit_condition_unlock(c));

    /* Notifying with nobody waiting is harmless, with or without the mutex. */
    OK(shmkit_condition_notify_one(c));
    OK(shmkit_condition_notify(c, 0));
    OK(shmkit_condition_notify(c, 5));
    OK(shmkit_condition_notify_all(c));

    CHECK(pipe(to_child) == 0);

    /* One waiter: the child waits with the mutex released; the parent, which can lock
     * only once the child waits, sets the predicate and notifies. */
    {
        const int64_t zero = 0;
        int64_t *flag = NULL;
        OK(shmkit_value_create(state_name, &i64_type, &zero, &v));
        OK(shmkit_value_data(v, (void **)&flag));
        pid = fork();
        if (pid == 0) {
            shmkit_condition *mine = NULL;
            shmkit_value *mv = NULL;
            int64_t *f = NULL;
            if (shmkit_condition_open(name, &mine) != SHMKIT_OK) _exit(10);
            if (shmkit_value_open(state_name, &i64_type, &mv) != SHMKIT_OK) _exit(11);
            if (shmkit_value_data(mv, (void **)&f) != SHMKIT_OK) _exit(12);
            if (shmkit_condition_lock(mine) != SHMKIT_OK) _exit(13);
            send_byte(to_child[1]); /* holding the mutex: the parent must wait for it */
            while (*f == 0)
                if (shmkit_condition_wait(mine) != SHMKIT_OK) _exit(14);
            if (*f != 42) _exit(15);
            if (shmkit_condition_unlock(mine) != SHMKIT_OK) _exit(16);
            shmkit_value_close(&mv);
            shmkit_condition_close(&mine);
            _exit(0);
        }
        wait_byte(to_child[0]);
        OK(shmkit_condition_lock(c)); /* free only once the child waits */
        *flag = 42;
        OK(shmkit_condition_notify_one(c));
        OK(shmkit_condition_unlock(c));
        CHECK(wait_child(pid) == 0);
        OK(shmkit_value_close(&v));
    }

    /* Several waiters, woken by notify(n) + notify_one, then by notify_all. */
    {
        int round;
        shmkit_array *a = NULL;
        int64_t *st = NULL;
        for (round = 0; round < 2; round++) {
            pid_t kids[WAITERS];
            OK(shmkit_array_create(state_name, &i64_type, 2, &a));
            OK(shmkit_array_data(a, (void **)&st));
            for (i = 0; i < WAITERS; i++) {
                kids[i] = fork();
                if (kids[i] == 0) _exit(waiter(name, state_name));
            }
            OK(shmkit_condition_lock(c));
            while (st[0] < WAITERS) {
                OK(shmkit_condition_wait_timeout(c, SECONDS(30), &notified));
                CHECK(notified);
                if (!notified) break;
            }
            st[1] = 1;
            if (round == 0) {
                OK(shmkit_condition_notify(c, WAITERS - 1));
                OK(shmkit_condition_notify_one(c));
            } else {
                OK(shmkit_condition_notify_all(c));
            }
            OK(shmkit_condition_unlock(c));
            for (i = 0; i < WAITERS; i++) CHECK(wait_child(kids[i]) == 0);
            OK(shmkit_array_close(&a));
        }
    }

    /* Owner death seen on the relock: a child locks while the parent waits, notifies,
     * and dies holding the mutex; the parent's wait returns SHMKIT_OWNER_DIED, held. */
    pid = fork();
    if (pid == 0) {
        shmkit_condition *mine = NULL;
        if (shmkit_condition_open(name, &mine) != SHMKIT_OK) _exit(10);
        wait_byte(to_child[0]);
        if (shmkit_condition_lock(mine) != SHMKIT_OK) _exit(11); /* the parent waits */
        if (shmkit_condition_notify_all(mine) != SHMKIT_OK) _exit(12);
        _exit(0); /* dies holding the mutex */
    }
    OK(shmkit_condition_lock(c));
    send_byte(to_child[1]);
    notified = true;
    EXPECT(shmkit_condition_wait_timeout(c, SECONDS(30), &notified), SHMKIT_OWNER_DIED);
    CHECK(notified); /* written only on SHMKIT_OK */
    CHECK(wait_child(pid) == 0);
    EXPECT(shmkit_condition_lock(c2), SHMKIT_DEADLOCK); /* held by this thread */
    OK(shmkit_condition_unlock(c));
    EXPECT(shmkit_condition_lock(c2), SHMKIT_OWNER_DIED); /* not repaired yet */
    OK(shmkit_condition_mark_consistent(c2));
    OK(shmkit_condition_unlock(c2));
    OK(shmkit_condition_try_lock(c));

    /* The same through the untimed wait. */
    pid = fork();
    if (pid == 0) {
        shmkit_condition *mine = NULL;
        if (shmkit_condition_open(name, &mine) != SHMKIT_OK) _exit(10);
        send_byte(to_child[1]);
        if (shmkit_condition_lock(mine) != SHMKIT_OK) _exit(11);
        if (shmkit_condition_notify_one(mine) != SHMKIT_OK) _exit(12);
        _exit(0);
    }
    wait_byte(to_child[0]);
    EXPECT(shmkit_condition_wait(c), SHMKIT_OWNER_DIED);
    CHECK(wait_child(pid) == 0);
    OK(shmkit_condition_mark_consistent(c));
    OK(shmkit_condition_unlock(c));

    /* Closing a handle releases the mutex the thread holds through it. */
    OK(shmkit_condition_lock(c2));
    OK(shmkit_condition_close(&c2));
    OK(shmkit_condition_try_lock(c));
    OK(shmkit_condition_unlock(c));

    /* open_or_create: made when missing, opened when present. */
    {
        shmkit_condition *f = NULL, *f2 = NULL;
        OK(shmkit_condition_open_or_create(name_of("cond-fresh"), &f));
        OK(shmkit_condition_open_or_create(name_of("cond-fresh"), &f2));
        OK(shmkit_condition_lock(f));
        EXPECT(shmkit_condition_try_lock(f2), SHMKIT_DEADLOCK);
        OK(shmkit_condition_unlock(f2));
        OK(shmkit_condition_close(&f2));
        OK(shmkit_condition_close(&f));
        EXPECT(shmkit_condition_open(name_of("cond-fresh"), &f), SHMKIT_NOT_FOUND);
    }

    /* Closed handles are NULL; closing twice is harmless. */
    OK(shmkit_condition_close(&c));
    CHECK(c == NULL);
    OK(shmkit_condition_close(&c));
    EXPECT(shmkit_condition_lock(c), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_condition_notify_all(c), SHMKIT_NULL_ARGUMENT);
    close(to_child[0]);
    close(to_child[1]);
    return finish();
}
