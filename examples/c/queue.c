/* A writer process puts "A", "B" and "C" into a shared queue with random pauses; a
 * reader process gets them in order. The C port of the `queue` seed scenario.
 *
 *   make && ./build/queue [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmkit.h"

/* A short text message; a Rust program declares the same type as
 * #[shmkit::shareable(name = "letter")] #[repr(C)] struct Letter { text: [u8; 8] } */
struct letter {
    char text[8];
};
static const shmkit_type letter_type = SHMKIT_TYPE(struct letter, "letter");

static int fail(const char *what, shmkit_status s) {
    fprintf(stderr, "%s: %s (%s)\n", what, shmkit_status_message(s), shmkit_last_error_message());
    return 1;
}

static void random_pause(void) {
    struct timespec t = {0, (long)(rand() % 50) * 1000 * 1000}; /* 0 to 49 ms */
    nanosleep(&t, NULL);
}

static int writer(const char *name) {
    static const char *const texts[] = {"A", "B", "C"};
    shmkit_queue *q = NULL;
    shmkit_status s;
    size_t i;
    srand((unsigned)getpid());
    if ((s = shmkit_queue_open(name, &letter_type, &q)) != SHMKIT_OK) return fail("open", s);
    for (i = 0; i < 3; i++) {
        struct letter l;
        memset(&l, 0, sizeof l);
        strcpy(l.text, texts[i]);
        random_pause();
        if ((s = shmkit_queue_put(q, &l, -1)) != SHMKIT_OK) return fail("put", s);
        printf("writer %d put %s\n", (int)getpid(), l.text);
        fflush(stdout);
    }
    shmkit_queue_close(&q);
    return 0;
}

int main(int argc, char **argv) {
    char name[128];
    shmkit_queue *q = NULL;
    shmkit_status s;
    char got[4] = {0};
    int i, status = 0;
    pid_t pid;

    snprintf(name, sizeof name, "%s-queue", argc > 1 ? argv[1] : "example");
    if ((s = shmkit_queue_create(name, &letter_type, 8, &q)) != SHMKIT_OK)
        return fail("create", s);
    fflush(stdout);
    pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) _exit(writer(name));

    /* The reader: get blocks until the writer has put the next letter. */
    for (i = 0; i < 3; i++) {
        struct letter l;
        if ((s = shmkit_queue_get(q, &l, 10LL * 1000 * 1000 * 1000)) != SHMKIT_OK)
            return fail("get", s);
        l.text[sizeof l.text - 1] = '\0';
        printf("reader got %s\n", l.text);
        got[i] = l.text[0];
    }
    waitpid(pid, &status, 0);
    shmkit_queue_close(&q); /* the creator's close removes the name */
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    if (strcmp(got, "ABC") != 0) return 1;
    printf("reader got A B C in order\n");
    return 0;
}
