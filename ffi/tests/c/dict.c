/* shmkit_dict_*: the shared dict of byte strings, between processes. */
#include "check.h"

static size_t len_of(const shmkit_dict *d) {
    size_t n = 999;
    OK(shmkit_dict_len(d, &n));
    return n;
}

/* Looks `key` up into a 64-byte buffer; returns the length, or -1 if not found. */
static long get_str(const shmkit_dict *d, const char *key, char out[64]) {
    size_t n = 0;
    bool found = false;
    memset(out, 0, 64);
    OK(shmkit_dict_get(d, key, strlen(key), out, 63, &n, &found));
    return found ? (long)n : -1;
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("dict");
    shmkit_dict *d = NULL, *d2 = NULL;
    char buf[64];
    size_t n = 0, count = 0, cap = 0, max = 0;
    bool b = false, found = true;
    pid_t pid;
    int i;

    /* NULL arguments, bad names, missing segments, bad sizes. */
    EXPECT(shmkit_dict_create(NULL, 4, 64, &d), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_create(name, 4, 64, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_open(NULL, &d), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_open(name, &d), SHMKIT_NOT_FOUND);
    EXPECT(shmkit_dict_open_or_create(name, 4, 64, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_create(".dot", 4, 64, &d), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_dict_create(name, 0, 64, &d), SHMKIT_INVALID_ARGUMENT);
    CHECK(d == NULL);
    EXPECT(shmkit_dict_insert(NULL, "k", 1, "v", 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_get(NULL, "k", 1, buf, sizeof buf, &n, &found), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_contains(NULL, "k", 1, &b), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_remove(NULL, "k", 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_len(NULL, &n), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_clear(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_keys(NULL, buf, sizeof buf, &n, &count), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_recover(NULL, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_close(NULL), SHMKIT_NULL_ARGUMENT);

    OK(shmkit_dict_create(name, 4, 64, &d));
    EXPECT(shmkit_dict_create(name, 4, 64, &d2), SHMKIT_ALREADY_EXISTS);
    OK(shmkit_dict_open(name, &d2));
    OK(shmkit_dict_capacity(d2, &cap, &max));
    CHECK(cap == 4 && max == 64);
    EXPECT(shmkit_dict_insert(d, NULL, 1, "v", 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_get(d, "k", 1, buf, sizeof buf, NULL, &found), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_get(d, "k", 1, buf, sizeof buf, &n, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_get(d, "k", 1, NULL, 4, &n, &found), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_dict_len(d, NULL), SHMKIT_NULL_ARGUMENT);

    /* Wrong kinds and handles. */
    {
        shmkit_mutex *m = NULL;
        shmkit_dict *k = NULL;
        EXPECT(shmkit_mutex_open(name, &m), SHMKIT_KIND_MISMATCH);
        OK(shmkit_mutex_create(name_of("dict-mutex"), &m));
        EXPECT(shmkit_dict_open(name_of("dict-mutex"), &k), SHMKIT_KIND_MISMATCH);
        CHECK(k == NULL);
        EXPECT(shmkit_dict_len((const shmkit_dict *)(const void *)m, &n), SHMKIT_INVALID_HANDLE);
        OK(shmkit_mutex_close(&m));
    }

    /* Insert, replace, get, contains, remove; an empty key and an empty value. */
    CHECK(len_of(d) == 0);
    OK(shmkit_dict_insert(d, "alpha", 5, "one", 3, &b));
    CHECK(!b);
    OK(shmkit_dict_insert(d2, "alpha", 5, "uno", 3, &b));
    CHECK(b);
    OK(shmkit_dict_insert(d, "", 0, NULL, 0, NULL));
    CHECK(len_of(d2) == 2);
    CHECK(get_str(d2, "alpha", buf) == 3 && strcmp(buf, "uno") == 0);
    CHECK(get_str(d, "", buf) == 0);
    CHECK(get_str(d, "beta", buf) == -1);
    OK(shmkit_dict_get(d, "beta", 4, buf, sizeof buf, &n, &found));
    CHECK(!found && n == 0);
    OK(shmkit_dict_contains(d, "alpha", 5, &b));
    CHECK(b);
    OK(shmkit_dict_contains(d, "alph", 4, &b));
    CHECK(!b);
    /* Buffer too small: the needed size comes back, nothing is copied. */
    memset(buf, 'z', sizeof buf);
    EXPECT(shmkit_dict_get(d, "alpha", 5, buf, 2, &n, &found), SHMKIT_BUFFER_TOO_SMALL);
    CHECK(n == 3 && found && buf[0] == 'z');
    OK(shmkit_dict_remove(d, "alpha", 5, &b));
    CHECK(b);
    OK(shmkit_dict_remove(d, "alpha", 5, &b));
    CHECK(!b);
    CHECK(len_of(d) == 1);

    /* Capacity: 4 entries, 64 bytes of keys and values. */
    EXPECT(shmkit_dict_insert(d, "big", 3, buf, 62, NULL), SHMKIT_TOO_LARGE);
    OK(shmkit_dict_insert(d, "k1", 2, "v", 1, NULL));
    OK(shmkit_dict_insert(d, "k2", 2, "v", 1, NULL));
    OK(shmkit_dict_insert(d, "k3", 2, "v", 1, NULL));
    EXPECT(shmkit_dict_insert(d, "k4", 2, "v", 1, NULL), SHMKIT_FULL);
    EXPECT(shmkit_dict_insert(d, "k1", 2, buf, 60, NULL), SHMKIT_FULL);
    CHECK(len_of(d) == 4);
    CHECK(get_str(d, "k1", buf) == 1 && buf[0] == 'v');

    /* Keys snapshot: length-prefixed. */
    EXPECT(shmkit_dict_keys(d, buf, 4, &n, &count), SHMKIT_BUFFER_TOO_SMALL);
    CHECK(n == 4 * 4 + 0 + 2 + 2 + 2);
    OK(shmkit_dict_keys(d, buf, sizeof buf, &n, &count));
    CHECK(count == 4 && n == 22);
    {
        size_t at = 0, seen = 0, total = 0;
        while (at + 4 <= n) {
            uint32_t len;
            memcpy(&len, buf + at, 4);
            at += 4 + len;
            total += len;
            seen++;
        }
        CHECK(seen == 4 && total == 6 && at == n);
    }

    /* A child process inserts; the parent sees it. */
    OK(shmkit_dict_clear(d));
    CHECK(len_of(d2) == 0);
    pid = fork();
    if (pid == 0) {
        shmkit_dict *c = NULL;
        char msg[64];
        if (shmkit_dict_open(name, &c) != SHMKIT_OK) _exit(1);
        snprintf(msg, sizeof msg, "I am process %d", (int)getpid());
        for (i = 0; i < 3; i++) {
            char key[16];
            snprintf(key, sizeof key, "child-%d", i);
            if (shmkit_dict_insert(c, key, strlen(key), msg, 8, NULL) != SHMKIT_OK) _exit(2);
        }
        shmkit_dict_close(&c);
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    CHECK(len_of(d) == 3);
    CHECK(get_str(d, "child-2", buf) == 8 && strcmp(buf, "I am pro") == 0);
    OK(shmkit_dict_recover(d, &n));
    CHECK(n == 0);
    CHECK(len_of(d) == 3);

    OK(shmkit_dict_close(&d2));
    CHECK(d2 == NULL);
    OK(shmkit_dict_close(&d2));
    EXPECT(shmkit_dict_len(d2, &n), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_dict_close(&d));
    EXPECT(shmkit_dict_open(name, &d), SHMKIT_NOT_FOUND);
    /* open_or_create makes it afresh; its handle removes it. */
    OK(shmkit_dict_open_or_create(name, 2, 16, &d));
    OK(shmkit_dict_capacity(d, &cap, &max));
    CHECK(cap == 2 && max == 16);
    OK(shmkit_dict_close(&d));
    return finish();
}
