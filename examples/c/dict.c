/* Two child processes each insert "I am process <pid>" under their own key in a shared
 * dict; the parent adds its own entry and prints all three. The C port of the `dict`
 * seed scenario.
 *
 *   make && ./build/dict [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

static int fail(const char *what, shmkit_status s) {
    fprintf(stderr, "%s: %s (%s)\n", what, shmkit_status_message(s), shmkit_last_error_message());
    return 1;
}

static void insert_self(const shmkit_dict *d, const char *key) {
    char msg[64];
    int n = snprintf(msg, sizeof msg, "I am process %d", (int)getpid());
    shmkit_dict_insert(d, key, strlen(key), msg, (size_t)n, NULL);
}

int main(int argc, char **argv) {
    char name[128], keys[256];
    const char *children[] = {"child-1", "child-2"};
    shmkit_dict *d = NULL;
    shmkit_status s;
    size_t len = 0, count = 0, at = 0;
    int i, ok = 1;

    snprintf(name, sizeof name, "%s-dict", argc > 1 ? argv[1] : "example");
    /* Up to 16 entries, 4 KiB of keys and values in all. */
    if ((s = shmkit_dict_create(name, 16, 4096, &d)) != SHMKIT_OK) return fail("create", s);

    for (i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child opens the dict by name, as any other process would. */
            shmkit_dict *mine = NULL;
            if (shmkit_dict_open(name, &mine) != SHMKIT_OK) _exit(1);
            insert_self(mine, children[i]);
            shmkit_dict_close(&mine);
            _exit(0);
        }
    }
    for (i = 0; i < 2; i++) {
        int status = 0;
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ok = 0;
    }
    insert_self(d, "parent");

    /* The keys, then each value. */
    if ((s = shmkit_dict_keys(d, keys, sizeof keys, &len, &count)) != SHMKIT_OK)
        return fail("keys", s);
    while (at + 4 <= len) {
        uint32_t klen;
        char value[64];
        size_t vlen = 0;
        bool found = false;
        memcpy(&klen, keys + at, 4);
        if ((s = shmkit_dict_get(d, keys + at + 4, klen, value, sizeof value, &vlen, &found)) !=
            SHMKIT_OK)
            return fail("get", s);
        printf("%.*s: %.*s\n", (int)klen, keys + at + 4, (int)vlen, value);
        at += 4 + klen;
    }
    printf("%zu entries\n", count);
    shmkit_dict_close(&d); /* the creator's close removes the name */
    return ok && count == 3 ? 0 : 1;
}
