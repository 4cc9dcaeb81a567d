/* shmkit_mutex_*: the named robust lock, between processes. */
#include "check.h"

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("mutex");
    shmkit_mutex *m = NULL, *m2 = NULL;
    int to_child[2], to_parent[2];
    pid_t pid;

    EXPECT(shmkit_mutex_create(NULL, &m), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_create(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_open(NULL, &m), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_open(name, &m), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_mutex_create(".hidden", &m), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_mutex_open("\xe2\x82", &m), SHMKIT_INVALID_NAME);
    CHECK(m == NULL);

    OK(shmkit_mutex_create(name, &m));
    EXPECT(shmkit_mutex_create(name, &m2), SHMKIT_ALREADY_EXISTS);
    OK(shmkit_mutex_open(name, &m2));
    {
        const shmkit_type u8 = {"u8", 1, 1};
        shmkit_value *v = NULL;
        EXPECT(shmkit_value_open(name, &u8, &v), SHMKIT_KIND_MISMATCH);
    }

    EXPECT(shmkit_mutex_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_lock_timeout(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_try_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_unlock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_mark_consistent(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_mutex_unlock(m), SHMKIT_NOT_LOCKED);
    EXPECT(shmkit_mutex_mark_consistent(m), SHMKIT_NOT_LOCKED);

    OK(shmkit_mutex_lock(m));
    EXPECT(shmkit_mutex_lock(m2), SHMKIT_DEADLOCK);
    OK(shmkit_mutex_unlock(m));
    EXPECT(shmkit_mutex_unlock(m), SHMKIT_NOT_LOCKED);

    /* Another process holds it: would-block, timeouts, then it dies holding it. */
    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);
    pid = fork();
    if (pid == 0) {
        shmkit_mutex *mine = NULL;
        if (shmkit_mutex_open(name, &mine) != SHMKIT_OK) _exit(10);
        if (shmkit_mutex_lock(mine) != SHMKIT_OK) _exit(11);
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        _exit(0); /* dies holding the lock, without closing */
    }
    wait_byte(to_parent[0]);
    EXPECT(shmkit_mutex_try_lock(m), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_mutex_lock_timeout(m2, 10 * 1000 * 1000), SHMKIT_TIMEOUT);
    CHECK(strstr(shmkit_last_error_message(), "timed out") != NULL);
    send_byte(to_child[1]);
    CHECK(wait_child(pid) == 0);
    EXPECT(shmkit_mutex_lock(m), SHMKIT_OWNER_DIED);
    OK(shmkit_mutex_unlock(m));
    EXPECT(shmkit_mutex_lock_timeout(m2, -1), SHMKIT_OWNER_DIED); /* still unrepaired */
    OK(shmkit_mutex_mark_consistent(m2));
    OK(shmkit_mutex_unlock(m2));
    OK(shmkit_mutex_try_lock(m));
    OK(shmkit_mutex_unlock(m));

    /* Closing releases a lock this thread holds. */
    OK(shmkit_mutex_lock(m2));
    OK(shmkit_mutex_close(&m2));
    OK(shmkit_mutex_try_lock(m));
    OK(shmkit_mutex_unlock(m));

    EXPECT(shmkit_mutex_close(NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_mutex_close(&m));
    CHECK(m == NULL);
    OK(shmkit_mutex_close(&m));
    EXPECT(shmkit_mutex_lock(m), SHMKIT_NULL_ARGUMENT);
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
    return finish();
}
