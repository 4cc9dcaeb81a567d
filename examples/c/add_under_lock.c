/* Two processes add 10 and 20 to a shared counter that starts at 1, each under a
 * re-entrant lock (an RLock) that a helper takes again: the first to get the lock
 * prints 11 (or 21), the second 31, and no update is lost. The C port of the
 * `add_under_lock` seed example (examples/add_under_lock.rs).
 *
 *   make && ./build/add_under_lock [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

static const shmkit_type i64_type = SHMKIT_TYPE(int64_t, "i64");

/* Takes the lock again (fine: it is re-entrant) and adds `amount`. */
static int add(const shmkit_rlock *lock, int64_t *counter, int64_t amount, int64_t *total) {
    shmkit_status s = shmkit_rlock_lock(lock);
    if (s != SHMKIT_OK && s != SHMKIT_OWNER_DIED) return -1;
    *counter += amount; /* a plain read-modify-write: the lock makes it safe */
    *total = *counter;
    return shmkit_rlock_unlock(lock) == SHMKIT_OK ? 0 : -1;
}

static int adder(const char *lock_name, const char *counter_name, int64_t amount) {
    shmkit_rlock *lock = NULL;
    shmkit_value *value = NULL;
    int64_t *counter = NULL, total = 0;
    int result = 2;
    shmkit_status s;
    if (shmkit_rlock_open(lock_name, &lock) == SHMKIT_OK &&
        shmkit_value_open(counter_name, &i64_type, &value) == SHMKIT_OK &&
        shmkit_value_data(value, (void **)&counter) == SHMKIT_OK) {
        s = shmkit_rlock_lock(lock); /* the outer hold */
        if (s == SHMKIT_OK || s == SHMKIT_OWNER_DIED) {
            if (add(lock, counter, amount, &total) == 0) {
                printf("adder +%lld (pid %ld): counter is now %lld\n", (long long)amount,
                       (long)getpid(), (long long)total);
                fflush(stdout);
                result = 0;
            }
            shmkit_rlock_unlock(lock);
        }
    }
    shmkit_value_close(&value);
    shmkit_rlock_close(&lock);
    return result;
}

int main(int argc, char **argv) {
    const char *prefix = argc > 1 ? argv[1] : "example";
    const int64_t amounts[2] = {10, 20};
    char lock_name[128], counter_name[128];
    shmkit_rlock *lock = NULL;
    shmkit_value *counter = NULL;
    const int64_t start = 1;
    int64_t final = 0;
    pid_t kids[2];
    int i, failed = 0;

    snprintf(lock_name, sizeof lock_name, "%s-rlock", prefix);
    snprintf(counter_name, sizeof counter_name, "%s-counter", prefix);
    /* The creating handles remove the names when closed. */
    if (shmkit_rlock_create(lock_name, &lock) != SHMKIT_OK ||
        shmkit_value_create(counter_name, &i64_type, &start, &counter) != SHMKIT_OK) {
        fprintf(stderr, "setup: %s\n", shmkit_last_error_message());
        shmkit_rlock_close(&lock);
        return 1;
    }
    printf("parent: counter starts at %lld\n", (long long)start);
    fflush(stdout);
    for (i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) _exit(adder(lock_name, counter_name, amounts[i]));
    }
    for (i = 0; i < 2; i++) {
        int status = 0;
        if (kids[i] < 0 || waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed++;
    }
    shmkit_value_load(counter, &final, sizeof final);
    printf("parent: final value %lld\n", (long long)final);
    shmkit_value_close(&counter);
    shmkit_rlock_close(&lock);
    return failed == 0 && final == 31 ? 0 : 1;
}
