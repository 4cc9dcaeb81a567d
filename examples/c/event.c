/* Processes wait on an event until another sets it: three waiter processes block on
 * an event; the parent sets it once they are all about to wait, and every one wakes.
 * The C port of the `event` seed example (examples/event.rs).
 *
 *   make && ./build/event [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

#define WAITERS 3
#define SECONDS(n) ((int64_t)(n) * 1000 * 1000 * 1000)

/* Exit status 0: woke up because the event was set; 1: timed out; 2: error. */
static int waiter(const char *event_name, const char *ready_name, int id) {
    shmkit_event *ev = NULL;
    shmkit_semaphore *ready = NULL;
    bool set = false;
    int result = 2;
    if (shmkit_event_open(event_name, &ev) == SHMKIT_OK &&
        shmkit_semaphore_open(ready_name, &ready) == SHMKIT_OK) {
        printf("waiter %d: waiting for the event\n", id);
        fflush(stdout);
        shmkit_semaphore_release(ready); /* tell the parent we are about to wait */
        if (shmkit_event_wait_timeout(ev, SECONDS(30), &set) == SHMKIT_OK) {
            result = set ? 0 : 1;
            if (set) printf("waiter %d: the event is set, going on\n", id);
            fflush(stdout);
        }
    }
    shmkit_semaphore_close(&ready);
    shmkit_event_close(&ev);
    return result;
}

int main(int argc, char **argv) {
    const char *prefix = argc > 1 ? argv[1] : "example";
    char event_name[128], ready_name[128];
    shmkit_event *ev = NULL;
    shmkit_semaphore *ready = NULL;
    bool set = false;
    pid_t kids[WAITERS];
    int i, failed = 0;

    snprintf(event_name, sizeof event_name, "%s-event", prefix);
    snprintf(ready_name, sizeof ready_name, "%s-event-ready", prefix);
    /* The creating handles remove the names when closed. */
    if (shmkit_event_create(event_name, &ev) != SHMKIT_OK ||
        shmkit_semaphore_create(ready_name, 0, &ready) != SHMKIT_OK) {
        fprintf(stderr, "setup: %s\n", shmkit_last_error_message());
        shmkit_event_close(&ev);
        return 1;
    }
    for (i = 0; i < WAITERS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) _exit(waiter(event_name, ready_name, i));
    }
    /* A permit from each waiter (bounded: a waiter that failed to start gives none). */
    for (i = 0; i < WAITERS; i++)
        if (shmkit_semaphore_acquire_timeout(ready, SECONDS(10)) != SHMKIT_OK) failed++;
    printf("parent: %d processes are waiting; setting the event\n", WAITERS - failed);
    fflush(stdout);
    shmkit_event_set(ev);
    for (i = 0; i < WAITERS; i++) {
        int status = 0;
        if (kids[i] < 0 || waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed++;
    }
    shmkit_event_is_set(ev, &set);
    if (failed == 0) printf("parent: every waiter woke up; is_set = %s\n", set ? "true" : "false");
    shmkit_semaphore_close(&ready);
    shmkit_event_close(&ev);
    return failed == 0 && set ? 0 : 1;
}
