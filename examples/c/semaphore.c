/* Only N processes at a time inside a section: five worker processes share a
 * semaphore with two permits; each counts itself in and out of the section, and
 * checks that never more than two are inside at once. The C port of the `semaphore`
 * seed example (examples/semaphore.rs).
 *
 *   make && ./build/semaphore [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmkit.h"

#define WORKERS 5
#define SLOTS 2

static const shmkit_type i64_type = SHMKIT_TYPE(int64_t, "i64");

/* Exit status 0: entered and left; 1: saw more than SLOTS inside; 2: error. */
static int worker(const char *sem_name, const char *inside_name, int id) {
    shmkit_semaphore *sem = NULL;
    shmkit_value *inside = NULL;
    int64_t now = 0;
    const struct timespec work = {0, 100L * 1000 * 1000};
    int result = 2;
    if (shmkit_semaphore_open(sem_name, &sem) == SHMKIT_OK &&
        shmkit_value_open(inside_name, &i64_type, &inside) == SHMKIT_OK &&
        shmkit_semaphore_acquire(sem) == SHMKIT_OK) {
        shmkit_value_fetch_add_i64(inside, 1, &now);
        now += 1;
        printf("worker %d (pid %ld): entered, %lld inside\n", id, (long)getpid(),
               (long long)now);
        fflush(stdout);
        result = now <= SLOTS ? 0 : 1;
        nanosleep(&work, NULL); /* the "work" */
        shmkit_value_fetch_add_i64(inside, -1, NULL);
        printf("worker %d: leaving\n", id);
        fflush(stdout);
        if (shmkit_semaphore_release(sem) != SHMKIT_OK) result = 2;
    }
    shmkit_value_close(&inside);
    shmkit_semaphore_close(&sem);
    return result;
}

int main(int argc, char **argv) {
    const char *prefix = argc > 1 ? argv[1] : "example";
    char sem_name[128], inside_name[128];
    shmkit_semaphore *sem = NULL;
    shmkit_value *inside = NULL;
    const int64_t zero = 0;
    int64_t left_inside = -1;
    uint32_t permits = 0;
    pid_t kids[WORKERS];
    int i, failed = 0;

    snprintf(sem_name, sizeof sem_name, "%s-sem", prefix);
    snprintf(inside_name, sizeof inside_name, "%s-sem-inside", prefix);
    /* The creating handles remove the names when closed. */
    if (shmkit_semaphore_create(sem_name, SLOTS, &sem) != SHMKIT_OK ||
        shmkit_value_create(inside_name, &i64_type, &zero, &inside) != SHMKIT_OK) {
        fprintf(stderr, "setup: %s\n", shmkit_last_error_message());
        shmkit_semaphore_close(&sem);
        return 1;
    }
    printf("parent: a semaphore with %d permits; starting %d worker processes\n", SLOTS,
           WORKERS);
    fflush(stdout);
    for (i = 0; i < WORKERS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) _exit(worker(sem_name, inside_name, i));
    }
    for (i = 0; i < WORKERS; i++) {
        int status = 0;
        if (kids[i] < 0 || waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed++;
    }
    shmkit_semaphore_value(sem, &permits);
    shmkit_value_load_i64(inside, &left_inside);
    printf("parent: all workers done; %u permits free again, %lld inside\n", (unsigned)permits,
           (long long)left_inside);
    shmkit_value_close(&inside);
    shmkit_semaphore_close(&sem);
    return (failed == 0 && permits == SLOTS && left_inside == 0) ? 0 : 1;
}
