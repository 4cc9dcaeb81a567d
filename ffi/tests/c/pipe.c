/* shmkit_pipe_*: named and anonymous (fork()ed) pipes, EOF and broken pipe. */
#include "check.h"

#define BIG (1 << 20)

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("pipe");
    shmkit_pipe *a = NULL, *b = NULL, *c = NULL;
    unsigned char buf[64];
    unsigned char *big, *back;
    size_t len = 0, i;
    bool ready = true;
    pid_t pid;

    /* NULL arguments, bad sizes, missing segments. */
    EXPECT(shmkit_pipe_create(NULL, true, 64, &a), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_create(name, true, 64, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_create(name, true, 0, &a), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_pipe_open(NULL, &b), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_open(name, &b), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_pipe_anonymous(true, 64, NULL, &b), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_anonymous(true, 64, &a, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_send(NULL, buf, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_recv(NULL, buf, 1, -1, &len), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_poll(NULL, 0, &ready), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_shutdown(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_close(NULL), SHMKIT_NULL_ARGUMENT);
    CHECK(a == NULL && b == NULL);

    /* Named duplex pipe, both ends in this process. */
    OK(shmkit_pipe_create(name, true, 64, &a));
    OK(shmkit_pipe_open(name, &b));
    EXPECT(shmkit_pipe_open(name, &c), SHMKIT_INVALID_ARGUMENT); /* end B is taken */
    CHECK(c == NULL);
    EXPECT(shmkit_pipe_send(a, NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_recv(b, buf, sizeof buf, 0, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_pipe_poll(b, 0, NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_pipe_poll(b, 0, &ready));
    CHECK(!ready);
    OK(shmkit_pipe_poll(b, 1000000, &ready)); /* waits 1 ms */
    CHECK(!ready);
    EXPECT(shmkit_pipe_recv(b, buf, sizeof buf, 1000000, &len), SHMKIT_TIMEOUT);
    OK(shmkit_pipe_send(a, "hi", 2));
    OK(shmkit_pipe_send(a, NULL, 0));
    OK(shmkit_pipe_poll(b, -1, &ready));
    CHECK(ready);
    len = 0;
    EXPECT(shmkit_pipe_recv(b, buf, 1, -1, &len), SHMKIT_BUFFER_TOO_SMALL);
    CHECK(len == 2);
    OK(shmkit_pipe_recv(b, buf, sizeof buf, -1, &len));
    CHECK(len == 2 && memcmp(buf, "hi", 2) == 0);
    OK(shmkit_pipe_recv(b, NULL, 0, 0, &len));
    CHECK(len == 0);
    OK(shmkit_pipe_send(b, "back", 4));
    OK(shmkit_pipe_recv(a, buf, sizeof buf, 0, &len));
    CHECK(len == 4 && memcmp(buf, "back", 4) == 0);
    /* Closing end B: A gets EOF, and BROKEN_PIPE on send. */
    OK(shmkit_pipe_send(b, "bye", 3));
    OK(shmkit_pipe_shutdown(b));
    EXPECT(shmkit_pipe_send(b, "x", 1), SHMKIT_CLOSED);
    OK(shmkit_pipe_recv(a, buf, sizeof buf, -1, &len));
    CHECK(len == 3);
    EXPECT(shmkit_pipe_recv(a, buf, sizeof buf, -1, &len), SHMKIT_EOF);
    EXPECT(shmkit_pipe_send(a, "x", 1), SHMKIT_BROKEN_PIPE);
    OK(shmkit_pipe_close(&b));
    OK(shmkit_pipe_close(&a));
    CHECK(a == NULL && b == NULL);

    /* A one-way pipe: A receives, B sends. */
    OK(shmkit_pipe_create(name, false, 64, &a));
    OK(shmkit_pipe_open(name, &b));
    EXPECT(shmkit_pipe_send(a, "x", 1), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_pipe_recv(b, buf, sizeof buf, 0, &len), SHMKIT_INVALID_ARGUMENT);
    OK(shmkit_pipe_send(b, "one-way", 7));
    OK(shmkit_pipe_recv(a, buf, sizeof buf, -1, &len));
    CHECK(len == 7);
    OK(shmkit_pipe_close(&b));
    OK(shmkit_pipe_close(&a));

    /* An anonymous pipe between this process and a fork()ed child: the child echoes
       each message reversed until EOF, including 1 MiB ones through a 4 KiB ring. */
    big = malloc(BIG);
    back = malloc(BIG);
    CHECK(big != NULL && back != NULL);
    for (i = 0; i < BIG; i++) big[i] = (unsigned char)(i * 7 + i / 251);
    OK(shmkit_pipe_anonymous(true, 4096, &a, &b));
    pid = fork();
    if (pid == 0) {
        unsigned char *m = malloc(BIG), t;
        size_t n = 0, k;
        shmkit_status st;
        shmkit_pipe_close(&a); /* the parent's end: only this handle closes */
        for (;;) {
            st = shmkit_pipe_recv(b, m, BIG, -1, &n);
            if (st == SHMKIT_EOF) break;
            if (st != SHMKIT_OK) _exit(2);
            for (k = 0; k < n / 2; k++) {
                t = m[k];
                m[k] = m[n - 1 - k];
                m[n - 1 - k] = t;
            }
            if (shmkit_pipe_send(b, m, n) != SHMKIT_OK) _exit(3);
        }
        free(m);
        shmkit_pipe_close(&b);
        _exit(0);
    }
    OK(shmkit_pipe_close(&b)); /* the child's end stays open for the child */
    OK(shmkit_pipe_send(a, "abc", 3));
    OK(shmkit_pipe_recv(a, buf, sizeof buf, 10000000000LL, &len));
    CHECK(len == 3 && memcmp(buf, "cba", 3) == 0);
    OK(shmkit_pipe_send(a, big, BIG));
    EXPECT(shmkit_pipe_recv(a, buf, sizeof buf, 10000000000LL, &len), SHMKIT_BUFFER_TOO_SMALL);
    CHECK(len == BIG);
    OK(shmkit_pipe_recv(a, back, BIG, -1, &len));
    CHECK(len == BIG);
    for (i = 0; i < BIG; i++) {
        if (back[i] != big[BIG - 1 - i]) {
            CHECK(!"1 MiB message mismatch");
            break;
        }
    }
    OK(shmkit_pipe_shutdown(a)); /* the child sees EOF and exits */
    CHECK(wait_child(pid) == 0);
    OK(shmkit_pipe_close(&a));
    free(big);
    free(back);
    return finish();
}
