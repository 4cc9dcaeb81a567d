/* The C side of tests/c_interop_messages.rs: a MessageQueue and a Pipe between a Rust
 * and a C process.
 *
 *   interop_messages mq_echo <in> <out>  take byte messages from the message queue <in>
 *                                        and put each one reversed into <out>, until
 *                                        <in> is closed and drained
 *   interop_messages pipe_echo <pipe>    claim end B of the pipe; send back each
 *                                        message reversed until EOF */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmkit.h"

#define TRY(call)                                                                      \
    do {                                                                               \
        shmkit_status s_ = (call);                                                     \
        if (s_ != SHMKIT_OK) {                                                         \
            fprintf(stderr, "%s: %s (%s)\n", #call, shmkit_status_message(s_),         \
                    shmkit_last_error_message());                                      \
            exit(2);                                                                   \
        }                                                                              \
    } while (0)

static void reverse(unsigned char *m, size_t n) {
    size_t k;
    for (k = 0; k < n / 2; k++) {
        unsigned char t = m[k];
        m[k] = m[n - 1 - k];
        m[n - 1 - k] = t;
    }
}

static int mq_echo(const char *in_name, const char *out_name) {
    shmkit_message_queue *in = NULL, *out = NULL;
    size_t max = 0, n = 0;
    unsigned char *buf;
    shmkit_status st;
    TRY(shmkit_message_queue_open(in_name, &in));
    TRY(shmkit_message_queue_open(out_name, &out));
    TRY(shmkit_message_queue_max_message(in, &max));
    buf = malloc(max ? max : 1);
    if (!buf) return 4;
    for (;;) {
        st = shmkit_message_queue_get(in, buf, max, -1, &n);
        if (st == SHMKIT_CLOSED) break;
        TRY(st);
        reverse(buf, n);
        TRY(shmkit_message_queue_put(out, buf, n, -1));
    }
    free(buf);
    TRY(shmkit_message_queue_close(&in));
    TRY(shmkit_message_queue_close(&out));
    return 0;
}

static int pipe_echo(const char *name) {
    shmkit_pipe *p = NULL;
    size_t cap = 16, n = 0;
    unsigned char *buf = malloc(cap);
    shmkit_status st;
    TRY(shmkit_pipe_open(name, &p));
    for (;;) {
        st = shmkit_pipe_recv(p, buf, cap, -1, &n);
        if (st == SHMKIT_EOF) break;
        if (st == SHMKIT_BUFFER_TOO_SMALL) {
            /* The message waits: grow the buffer to the size reported, then take it. */
            free(buf);
            cap = n;
            buf = malloc(cap);
            if (!buf) return 4;
            continue;
        }
        TRY(st);
        reverse(buf, n);
        TRY(shmkit_pipe_send(p, buf, n));
    }
    free(buf);
    TRY(shmkit_pipe_close(&p));
    return 0;
}

int main(int argc, char **argv) {
    const char *role = argc > 1 ? argv[1] : "";
    if (!strcmp(role, "mq_echo") && argc == 4) return mq_echo(argv[2], argv[3]);
    if (!strcmp(role, "pipe_echo") && argc == 3) return pipe_echo(argv[2]);
    fprintf(stderr, "usage: see the comment at the top of interop_messages.c\n");
    return 64;
}
