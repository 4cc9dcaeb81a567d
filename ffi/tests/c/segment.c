/* shmkit_segment_*: raw named byte areas. */
#include "check.h"

int main(int argc, char **argv) {
    init_test(argc, argv);
    const char *name = name_of("seg");
    shmkit_segment *seg = NULL, *other = NULL, *dup = NULL;
    void *data = NULL;
    size_t size = 0;
    char buf[16];

    /* NULL arguments: nothing is created, nothing is written. */
    EXPECT(shmkit_segment_create(NULL, 64, &seg), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_create(name, 64, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_open(NULL, &seg), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_open(name, NULL), SHMKIT_NULL_ARGUMENT);
    CHECK(seg == NULL);
    EXPECT(shmkit_segment_open(name, &seg), SHMKIT_NOT_FOUND);
    CHECK(seg == NULL);
    EXPECT(shmkit_segment_create("no/slash", 64, &seg), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_segment_create("bad\xc3\x28utf8", 64, &seg), SHMKIT_INVALID_NAME);
    CHECK(seg == NULL);

    OK(shmkit_segment_create(name, 100, &seg));
    CHECK(seg != NULL);
    EXPECT(shmkit_segment_create(name, 100, &dup), SHMKIT_ALREADY_EXISTS);
    CHECK(dup == NULL);
    OK(shmkit_segment_open(name, &other));

    OK(shmkit_segment_size(seg, &size));
    CHECK(size == 100);
    EXPECT(shmkit_segment_size(NULL, &size), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_size(seg, NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_segment_data(seg, &data));
    CHECK(data != NULL && ((uintptr_t)data % 64) == 0);
    EXPECT(shmkit_segment_data(NULL, &data), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_data(seg, NULL), SHMKIT_NULL_ARGUMENT);

    /* Bytes written through one handle are read through the other. */
    OK(shmkit_segment_write(seg, 10, "hello", 5));
    memset(buf, 0, sizeof buf);
    OK(shmkit_segment_read(other, 10, buf, 5));
    CHECK(memcmp(buf, "hello", 5) == 0);
    memcpy((char *)data + 50, "direct", 6);
    OK(shmkit_segment_read(other, 50, buf, 6));
    CHECK(memcmp(buf, "direct", 6) == 0);

    /* Bounds, NULL buffers, empty ranges. */
    EXPECT(shmkit_segment_read(seg, 96, buf, 5), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_segment_write(seg, 101, "x", 1), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_segment_write(seg, SIZE_MAX, "x", 2), SHMKIT_OUT_OF_BOUNDS);
    EXPECT(shmkit_segment_read(seg, 0, NULL, 5), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_write(seg, 0, NULL, 5), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_read(NULL, 0, buf, 5), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_write(NULL, 0, buf, 5), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_segment_read(seg, 100, NULL, 0));
    OK(shmkit_segment_write(seg, 0, NULL, 0));

    /* A raw segment is not a value, an array or a mutex. */
    {
        const shmkit_type u8 = {"u8", 1, 1};
        shmkit_value *v = NULL;
        shmkit_array *a = NULL;
        shmkit_mutex *m = NULL;
        EXPECT(shmkit_value_open(name, &u8, &v), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_array_open(name, &u8, &a), SHMKIT_KIND_MISMATCH);
        EXPECT(shmkit_mutex_open(name, &m), SHMKIT_KIND_MISMATCH);
        CHECK(strstr(shmkit_last_error_message(), "mutex") != NULL);
        CHECK(v == NULL && a == NULL && m == NULL);
    }

    /* close: NULL, closing sets the handle to NULL, closing twice is a no-op, and a
     * closed handle is refused. */
    EXPECT(shmkit_segment_close(NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_segment_close(&seg));
    CHECK(seg == NULL);
    OK(shmkit_segment_close(&seg));
    EXPECT(shmkit_segment_size(seg, &size), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_segment_write(seg, 0, "x", 1), SHMKIT_NULL_ARGUMENT);

    /* The creator's close removed the name; the other handle still works. */
    EXPECT(shmkit_segment_open(name, &dup), SHMKIT_NOT_FOUND);
    OK(shmkit_segment_read(other, 10, buf, 5));
    CHECK(memcmp(buf, "hello", 5) == 0);
    OK(shmkit_segment_close(&other));

    return finish();
}
