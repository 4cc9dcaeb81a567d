/* A child process writes 250 into element 0 of a shared int32 array; the parent reads
 * it back. The C port of the `array` seed scenario.
 *
 *   make && ./build/array [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

static const shmkit_type i32_type = SHMKIT_TYPE(int32_t, "i32");

static int fail(const char *what, shmkit_status s) {
    fprintf(stderr, "%s: %s (%s)\n", what, shmkit_status_message(s), shmkit_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    char name[128];
    shmkit_array *numbers = NULL;
    shmkit_status s;
    int32_t first = 0;
    int status = 0;
    pid_t pid;

    snprintf(name, sizeof name, "%s-array", argc > 1 ? argv[1] : "example");
    if ((s = shmkit_array_create(name, &i32_type, 10, &numbers)) != SHMKIT_OK)
        return fail("create", s);

    pid = fork();
    if (pid == 0) {
        /* The child opens the array by name, as any other process would. */
        shmkit_array *mine = NULL;
        const int32_t v = 250;
        if (shmkit_array_open(name, &i32_type, &mine) != SHMKIT_OK) _exit(1);
        if (shmkit_array_write(mine, 0, 1, &v) != SHMKIT_OK) _exit(2);
        shmkit_array_close(&mine);
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "child failed\n");
        shmkit_array_close(&numbers);
        return 1;
    }
    if ((s = shmkit_array_read(numbers, 0, 1, &first)) != SHMKIT_OK) return fail("read", s);
    printf("parent read %d\n", (int)first);
    shmkit_array_close(&numbers); /* the creator's close removes the name */
    return first == 250 ? 0 : 1;
}
