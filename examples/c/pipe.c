/* Two processes talk both ways over a duplex pipe: the parent sends questions, the
 * forked child answers each, and the parent closing its end is the child's EOF. The C
 * port of the `pipe` seed scenario (an anonymous pipe; shmkit_pipe_create /
 * shmkit_pipe_open give named ones).
 *
 *   make && ./build/pipe */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

static int fail(const char *what, shmkit_status s) {
    fprintf(stderr, "%s: %s (%s)\n", what, shmkit_status_message(s), shmkit_last_error_message());
    return 1;
}

/* The child: answers "what is a + b?" with the sum, until EOF. */
static int child(shmkit_pipe *conn) {
    char buf[128];
    size_t len = 0;
    shmkit_status s;
    int a, b;
    for (;;) {
        s = shmkit_pipe_recv(conn, buf, sizeof buf - 1, -1, &len);
        if (s == SHMKIT_EOF) break; /* the parent closed its end */
        if (s != SHMKIT_OK) return fail("child recv", s);
        buf[len] = '\0';
        printf("  child  got: %s\n", buf);
        fflush(stdout);
        if (sscanf(buf, "what is %d + %d?", &a, &b) != 2) return 1;
        len = (size_t)snprintf(buf, sizeof buf, "%d", a + b);
        if ((s = shmkit_pipe_send(conn, buf, len)) != SHMKIT_OK) return fail("child send", s);
    }
    printf("  child  got: EOF, goodbye\n");
    fflush(stdout);
    shmkit_pipe_close(&conn);
    return 0;
}

int main(void) {
    shmkit_pipe *parent_conn = NULL, *child_conn = NULL;
    static const int questions[][2] = {{1, 2}, {40, 2}, {1000, 24}};
    char buf[128];
    size_t i, len = 0;
    shmkit_status s;
    int status = 0;
    pid_t pid;

    if ((s = shmkit_pipe_anonymous(true, 4096, &parent_conn, &child_conn)) != SHMKIT_OK)
        return fail("pipe", s);
    fflush(stdout);
    pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        shmkit_pipe_close(&parent_conn); /* only this copy of the handle */
        _exit(child(child_conn));
    }
    shmkit_pipe_close(&child_conn); /* the child keeps its end open */

    for (i = 0; i < 3; i++) {
        len = (size_t)snprintf(buf, sizeof buf, "what is %d + %d?", questions[i][0],
                               questions[i][1]);
        if ((s = shmkit_pipe_send(parent_conn, buf, len)) != SHMKIT_OK) return fail("send", s);
        if ((s = shmkit_pipe_recv(parent_conn, buf, sizeof buf - 1, 10LL * 1000 * 1000 * 1000,
                                  &len)) != SHMKIT_OK)
            return fail("recv", s);
        buf[len] = '\0';
        printf("parent got: %d + %d = %s\n", questions[i][0], questions[i][1], buf);
        fflush(stdout);
        if (atoi(buf) != questions[i][0] + questions[i][1]) return 1;
    }
    shmkit_pipe_close(&parent_conn); /* closes end A: the child sees EOF */
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    printf("parent and child talked both ways; child exited\n");
    return 0;
}
