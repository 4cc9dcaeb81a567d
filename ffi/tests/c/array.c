/* shmkit_array_*: typed arrays, bounds, the lock pair, owner death. */
#include "check.h"

static const shmkit_type f64_type = SHMKIT_TYPE(double, "f64");
static const shmkit_type i32_type = SHMKIT_TYPE(int32_t, "i32");

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("arr");
    shmkit_array *a = NULL, *b = NULL;
    double in[10], out[10], *data = NULL;
    size_t len = 0;
    int i;

    EXPECT(shmkit_array_create(NULL, &f64_type, 10, &a), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_create(name, NULL, 10, &a), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_create(name, &f64_type, 10, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_create(name, &f64_type, SIZE_MAX / 4, &a), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_array_create("a/b", &f64_type, 10, &a), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_array_open(NULL, &f64_type, &a), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_open(name, NULL, &a), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_open(name, &f64_type, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_open(name, &f64_type, &a), SHMKIT_NOT_FOUND);
    CHECK(a == NULL);

    OK(shmkit_array_create(name, &f64_type, 10, &a));
    EXPECT(shmkit_array_create(name, &f64_type, 10, &b), SHMKIT_ALREADY_EXISTS);
    EXPECT(shmkit_array_open(name, &i32_type, &b), SHMKIT_TYPE_MISMATCH);
    CHECK(strstr(shmkit_last_error_message(), "f64 (size 8, align 8)") != NULL);
    {
        shmkit_value *v = NULL;
        EXPECT(shmkit_value_open(name, &f64_type, &v), SHMKIT_KIND_MISMATCH);
        CHECK(v == NULL);
    }
    CHECK(b == NULL);
    OK(shmkit_array_open(name, &f64_type, &b));

    OK(shmkit_array_len(b, &len));
    CHECK(len == 10);
    EXPECT(shmkit_array_len(NULL, &len), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_len(b, NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_array_data(b, (void **)&data));
    CHECK(data != NULL && ((uintptr_t)data % 8) == 0);
    EXPECT(shmkit_array_data(NULL, (void **)&data), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_data(b, NULL), SHMKIT_NULL_ARGUMENT);

    /* Fresh arrays are zeroed; writes through one handle are read through the other. */
    OK(shmkit_array_read(a, 0, 10, out));
    for (i = 0; i < 10; i++) CHECK(out[i] == 0.0);
    for (i = 0; i < 10; i++) in[i] = i * 1.5;
    OK(shmkit_array_write(a, 0, 10, in));
    OK(shmkit_array_read(b, 0, 10, out));
    for (i = 0; i < 10; i++) CHECK(out[i] == i * 1.5);
    OK(shmkit_array_write(a, 9, 1, &(double){-1.0}));
    OK(shmkit_array_read(b, 9, 1, out));
    CHECK(out[0] == -1.0);
    OK(shmkit_array_lock(b));
    CHECK(data[9] == -1.0);
    data[0] = 42;
    OK(shmkit_array_unlock(b));
    OK(shmkit_array_read(a, 0, 1, out));
    CHECK(out[0] == 42);

    /* Bounds and buffers. */
    EXPECT(shmkit_array_read(a, 9, 2, out), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_array_write(a, 10, 1, in), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_array_read(a, SIZE_MAX, 1, out), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_array_read(a, 1, SIZE_MAX, out), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_array_write(a, 1, SIZE_MAX / 8 + 1, in), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_array_read(a, 0, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_write(a, 0, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_read(NULL, 0, 1, out), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_write(NULL, 0, 1, in), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_array_read(a, 10, 0, NULL));

    /* The lock pair. */
    EXPECT(shmkit_array_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_lock_timeout(NULL, -1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_try_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_unlock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_mark_consistent(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_array_unlock(a), SHMKIT_NOT_LOCKED);
    EXPECT(shmkit_array_mark_consistent(a), SHMKIT_NOT_LOCKED);
    OK(shmkit_array_try_lock(a));
    EXPECT(shmkit_array_lock(b), SHMKIT_DEADLOCK); /* same lock, same thread */
    EXPECT(shmkit_array_read(a, 0, 1, out), SHMKIT_DEADLOCK);
    OK(shmkit_array_unlock(b)); /* either handle releases it */
    OK(shmkit_array_lock_timeout(a, -5));
    OK(shmkit_array_unlock(a));

    /* A child dies holding the lock. */
    {
        pid_t pid = fork();
        if (pid == 0) {
            if (shmkit_array_lock(a) != SHMKIT_OK) _exit(10);
            data[1] = 99;
            _exit(0);
        }
        CHECK(wait_child(pid) == 0);
        EXPECT(shmkit_array_lock_timeout(a, 1000000000), SHMKIT_OWNER_DIED);
        CHECK(data[1] == 99);
        OK(shmkit_array_mark_consistent(a));
        OK(shmkit_array_unlock(a));
        OK(shmkit_array_read(b, 1, 1, out));
        CHECK(out[0] == 99);
    }

    EXPECT(shmkit_array_close(NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_array_close(&b));
    CHECK(b == NULL);
    OK(shmkit_array_close(&b));
    EXPECT(shmkit_array_len(b, &len), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_array_close(&a));

    /* An empty array is fine. */
    OK(shmkit_array_create(name, &i32_type, 0, &a));
    OK(shmkit_array_len(a, &len));
    CHECK(len == 0);
    EXPECT(shmkit_array_read(a, 0, 1, out), SHMKIT_OUT_OF_BOUNDS);
    OK(shmkit_array_close(&a));

    return finish();
}
