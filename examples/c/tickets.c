/* Ten processes each try to buy one of five tickets from a shared count, under a named
 * shmkit mutex; exactly five are sold. The C port of the `tickets` seed scenario.
 *
 *   make && ./build/tickets [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

#define TICKETS 5
#define BUYERS 10

static const shmkit_type i32_type = SHMKIT_TYPE(int32_t, "i32");

/* Exit status 0: bought a ticket; 1: sold out; 2: error. */
static int buyer(const char *lock_name, const char *count_name) {
    shmkit_mutex *lock = NULL;
    shmkit_value *count = NULL;
    int32_t *left = NULL;
    int result = 2;
    shmkit_status s;
    if (shmkit_mutex_open(lock_name, &lock) == SHMKIT_OK &&
        shmkit_value_open(count_name, &i32_type, &count) == SHMKIT_OK &&
        shmkit_value_data(count, (void **)&left) == SHMKIT_OK) {
        s = shmkit_mutex_lock(lock);
        if (s == SHMKIT_OK || s == SHMKIT_OWNER_DIED) {
            /* The count is only touched while the mutex is held. */
            if (*left > 0) {
                *left -= 1;
                result = 0;
            } else {
                result = 1;
            }
            shmkit_mutex_unlock(lock);
        }
    }
    shmkit_value_close(&count);
    shmkit_mutex_close(&lock);
    return result;
}

int main(int argc, char **argv) {
    const char *prefix = argc > 1 ? argv[1] : "example";
    char lock_name[128], count_name[128];
    shmkit_mutex *lock = NULL;
    shmkit_value *count = NULL;
    const int32_t tickets = TICKETS;
    int32_t left = -1;
    pid_t kids[BUYERS];
    int i, sold = 0, sold_out = 0, errors = 0;

    snprintf(lock_name, sizeof lock_name, "%s-ticket-lock", prefix);
    snprintf(count_name, sizeof count_name, "%s-tickets", prefix);
    if (shmkit_mutex_create(lock_name, &lock) != SHMKIT_OK ||
        shmkit_value_create(count_name, &i32_type, &tickets, &count) != SHMKIT_OK) {
        fprintf(stderr, "setup: %s\n", shmkit_last_error_message());
        shmkit_mutex_close(&lock);
        return 1;
    }
    for (i = 0; i < BUYERS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) _exit(buyer(lock_name, count_name));
    }
    for (i = 0; i < BUYERS; i++) {
        int status = 0;
        if (kids[i] < 0 || waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status))
            errors++;
        else if (WEXITSTATUS(status) == 0)
            sold++;
        else if (WEXITSTATUS(status) == 1)
            sold_out++;
        else
            errors++;
    }
    shmkit_value_load(count, &left, sizeof left);
    printf("sold %d of %d tickets to %d buyers (%d turned away, %d left)\n", sold, TICKETS,
           BUYERS, sold_out, (int)left);
    shmkit_value_close(&count);
    shmkit_mutex_close(&lock);
    return (errors == 0 && sold == TICKETS && left == 0) ? 0 : 1;
}
