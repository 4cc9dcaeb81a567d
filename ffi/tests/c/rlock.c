/* shmkit_rlock_*: the named robust re-entrant lock, between threads and processes. */
#include "check.h"

#include <pthread.h>

static shmkit_status thread_status[2];

/* Another thread of this process: the lock is not its own. */
static void *other_thread(void *arg) {
    const shmkit_rlock *l = arg;
    thread_status[0] = shmkit_rlock_try_lock(l);
    thread_status[1] = shmkit_rlock_unlock(l);
    return NULL;
}

static void from_other_thread(const shmkit_rlock *l, shmkit_status want_try) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, (void *)l) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    EXPECT(thread_status[0], want_try);
    if (thread_status[0] == SHMKIT_OK) {
        EXPECT(thread_status[1], SHMKIT_OK); /* it released what it took */
    } else {
        EXPECT(thread_status[1], SHMKIT_NOT_OWNER);
    }
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("rlock");
    const char *other = name_of("rlock-mutex");
    shmkit_rlock *l = NULL, *l2 = NULL, *l3 = NULL;
    shmkit_mutex *m = NULL;
    bool owned = true;
    int to_child[2], to_parent[2];
    pid_t pid;

    /* NULL arguments, bad names, missing segments. */
    EXPECT(shmkit_rlock_create(NULL, &l), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_create(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_open(NULL, &l), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_open_or_create(NULL, &l), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_open_or_create(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_open(name, &l), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_rlock_create("a/b", &l), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_rlock_open_or_create("\xe2\x82", &l), SHMKIT_INVALID_NAME);
    CHECK(l == NULL);

    EXPECT(shmkit_rlock_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_lock_timeout(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_try_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_unlock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_mark_consistent(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_is_owned(NULL, &owned), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_close(NULL), SHMKIT_NULL_ARGUMENT);

    OK(shmkit_rlock_create(name, &l));
    EXPECT(shmkit_rlock_create(name, &l2), SHMKIT_ALREADY_EXISTS);
    OK(shmkit_rlock_open(name, &l2));
    OK(shmkit_rlock_open_or_create(name, &l3)); /* exists: opened */
    EXPECT(shmkit_rlock_is_owned(l, NULL), SHMKIT_NULL_ARGUMENT);

    /* Wrong kinds, both ways, and a handle of another kind. */
    OK(shmkit_mutex_create(other, &m));
    EXPECT(shmkit_rlock_open(other, &l2), SHMKIT_KIND_MISMATCH);
    EXPECT(shmkit_rlock_open_or_create(other, &l2), SHMKIT_KIND_MISMATCH);
    {
        shmkit_mutex *m2 = NULL;
        EXPECT(shmkit_mutex_open(name, &m2), SHMKIT_KIND_MISMATCH);
        CHECK(m2 == NULL);
    }
    EXPECT(shmkit_rlock_lock((const shmkit_rlock *)(const void *)m), SHMKIT_INVALID_HANDLE);
    EXPECT(shmkit_mutex_lock((const shmkit_mutex *)(const void *)l), SHMKIT_INVALID_HANDLE);
    OK(shmkit_mutex_close(&m));

    /* Not held: unlock and mark_consistent are refused and change nothing. */
    OK(shmkit_rlock_is_owned(l, &owned));
    CHECK(!owned);
    EXPECT(shmkit_rlock_unlock(l), SHMKIT_NOT_OWNER);
    CHECK(strstr(shmkit_last_error_message(), "non-owner") != NULL);
    EXPECT(shmkit_rlock_mark_consistent(l), SHMKIT_NOT_OWNER);

    /* Re-entrant: every acquire form re-enters, through any handle of the lock. */
    OK(shmkit_rlock_lock(l));
    OK(shmkit_rlock_lock(l2));
    OK(shmkit_rlock_try_lock(l3));
    OK(shmkit_rlock_lock_timeout(l, 0));
    OK(shmkit_rlock_lock_timeout(l, -1));
    OK(shmkit_rlock_is_owned(l2, &owned));
    CHECK(owned);
    OK(shmkit_rlock_mark_consistent(l)); /* held: allowed (nothing to repair) */
    from_other_thread(l, SHMKIT_WOULD_BLOCK);
    OK(shmkit_rlock_unlock(l));
    OK(shmkit_rlock_unlock(l3));
    OK(shmkit_rlock_unlock(l2));
    OK(shmkit_rlock_unlock(l));
    from_other_thread(l, SHMKIT_WOULD_BLOCK); /* one level still held */
    OK(shmkit_rlock_unlock(l));
    EXPECT(shmkit_rlock_unlock(l), SHMKIT_NOT_OWNER);
    OK(shmkit_rlock_is_owned(l, &owned));
    CHECK(!owned);
    from_other_thread(l, SHMKIT_OK); /* free now */

    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);

    /* Another process holds it at two levels: busy until its last unlock. */
    pid = fork();
    if (pid == 0) {
        shmkit_rlock *mine = NULL;
        if (shmkit_rlock_open(name, &mine) != SHMKIT_OK) _exit(10);
        if (shmkit_rlock_lock(mine) != SHMKIT_OK) _exit(11);
        if (shmkit_rlock_lock(mine) != SHMKIT_OK) _exit(12);
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        if (shmkit_rlock_unlock(mine) != SHMKIT_OK) _exit(13);
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        if (shmkit_rlock_unlock(mine) != SHMKIT_OK) _exit(14);
        if (shmkit_rlock_unlock(mine) != SHMKIT_NOT_OWNER) _exit(15);
        if (shmkit_rlock_close(&mine) != SHMKIT_OK) _exit(16);
        _exit(0);
    }
    wait_byte(to_parent[0]);
    EXPECT(shmkit_rlock_try_lock(l), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_rlock_lock_timeout(l, 10 * 1000 * 1000), SHMKIT_TIMEOUT);
    CHECK(strstr(shmkit_last_error_message(), "timed out") != NULL);
    EXPECT(shmkit_rlock_unlock(l), SHMKIT_NOT_OWNER); /* the child's hold is not ours */
    send_byte(to_child[1]);
    wait_byte(to_parent[0]);
    EXPECT(shmkit_rlock_try_lock(l), SHMKIT_WOULD_BLOCK); /* one level left */
    send_byte(to_child[1]);
    CHECK(wait_child(pid) == 0);
    OK(shmkit_rlock_try_lock(l));
    OK(shmkit_rlock_unlock(l));

    /* The holder dies at two levels: the next locker holds it, at one level, with
     * SHMKIT_OWNER_DIED, until someone marks it consistent. */
    pid = fork();
    if (pid == 0) {
        shmkit_rlock *mine = NULL;
        if (shmkit_rlock_open(name, &mine) != SHMKIT_OK) _exit(10);
        if (shmkit_rlock_lock(mine) != SHMKIT_OK) _exit(11);
        if (shmkit_rlock_lock(mine) != SHMKIT_OK) _exit(12);
        _exit(0); /* dies holding it, without closing */
    }
    CHECK(wait_child(pid) == 0);
    EXPECT(shmkit_rlock_lock(l), SHMKIT_OWNER_DIED);
    OK(shmkit_rlock_is_owned(l, &owned));
    CHECK(owned);
    OK(shmkit_rlock_lock(l)); /* re-entering our own hold */
    OK(shmkit_rlock_unlock(l));
    from_other_thread(l, SHMKIT_WOULD_BLOCK);
    OK(shmkit_rlock_unlock(l));
    EXPECT(shmkit_rlock_unlock(l), SHMKIT_NOT_OWNER); /* it was one level */
    EXPECT(shmkit_rlock_try_lock(l2), SHMKIT_OWNER_DIED); /* still unrepaired */
    OK(shmkit_rlock_mark_consistent(l2));
    OK(shmkit_rlock_unlock(l2));
    OK(shmkit_rlock_lock_timeout(l3, 1000 * 1000 * 1000));
    OK(shmkit_rlock_unlock(l3));

    /* Closing a handle releases every level the thread holds. */
    OK(shmkit_rlock_lock(l2));
    OK(shmkit_rlock_lock(l2));
    OK(shmkit_rlock_close(&l2));
    CHECK(l2 == NULL);
    from_other_thread(l, SHMKIT_OK);

    /* Closed handles are NULL; closing twice is harmless. */
    OK(shmkit_rlock_close(&l3));
    OK(shmkit_rlock_close(&l));
    CHECK(l == NULL);
    OK(shmkit_rlock_close(&l));
    EXPECT(shmkit_rlock_lock(l), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_rlock_unlock(l), SHMKIT_NULL_ARGUMENT);

    /* open_or_create creates when missing; that handle removes the name. */
    OK(shmkit_rlock_open_or_create(name, &l));
    OK(shmkit_rlock_lock(l));
    OK(shmkit_rlock_close(&l));
    EXPECT(shmkit_rlock_open(name, &l), SHMKIT_NOT_FOUND);

    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
    return finish();
}
