/* A tiny test harness for the C API tests: CHECK, EXPECT, unique names, fork helpers. */
#ifndef SHMKIT_TEST_CHECK_H
#define SHMKIT_TEST_CHECK_H

#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

static int failures;
static const char *prefix = "c-test";

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,    \
                    __LINE__, #cond, shmkit_last_error_message());                     \
            failures++;                                                                \
        }                                                                              \
    } while (0)

#define EXPECT(call, want)                                                             \
    do {                                                                               \
        shmkit_status got_ = (call);                                                   \
        if (got_ != (want)) {                                                          \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s; last error: %s\n", \
                    __FILE__, __LINE__, #call, (int)got_, shmkit_status_message(got_),  \
                    #want, shmkit_last_error_message());                               \
            failures++;                                                                \
        }                                                                              \
    } while (0)

#define OK(call) EXPECT(call, SHMKIT_OK)

/* A segment name unique to this test run: "<prefix>-<tag>". */
static inline const char *name_of(const char *tag) {
    static char bufs[16][160];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, sizeof bufs[0], "%s-%s", prefix, tag);
    return b;
}

static inline void init_test(int argc, char **argv) {
    if (argc > 1) prefix = argv[1];
}

static inline int finish(void) {
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all passed\n");
    return 0;
}

/* Waits for a child and returns its exit status (-1 if it did not exit normally). */
static inline int wait_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Blocks until the other end writes one byte. */
static inline void wait_byte(int fd) {
    char c;
    if (read(fd, &c, 1) != 1) _exit(90);
}

static inline void send_byte(int fd) {
    if (write(fd, "x", 1) != 1) _exit(91);
}

#endif
