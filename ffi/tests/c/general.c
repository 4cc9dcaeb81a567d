/* Library-wide functions: version, status messages, last error, unlink, the panic
 * boundary, and handles of the wrong kind. */
#include "check.h"

shmkit_status shmkit_test_panic(void); /* test hook, not in the header */

int main(int argc, char **argv) {
    init_test(argc, argv);

    /* Nothing failed yet on this thread. */
    CHECK(strcmp(shmkit_last_error_message(), "") == 0);

    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", SHMKIT_VERSION_MAJOR, SHMKIT_VERSION_MINOR,
             SHMKIT_VERSION_PATCH);
    CHECK(strcmp(shmkit_version(), version) == 0);

    CHECK(strcmp(shmkit_status_message(SHMKIT_OK), "success") == 0);
    CHECK(strcmp(shmkit_status_message(12345), "unknown status") == 0);
    CHECK(strcmp(shmkit_status_message(-1), "unknown status") == 0);
    {
        const int codes[] = {SHMKIT_NOT_FOUND, SHMKIT_ALREADY_EXISTS, SHMKIT_INVALID_NAME,
                             SHMKIT_TYPE_MISMATCH, SHMKIT_KIND_MISMATCH, SHMKIT_VERSION_MISMATCH,
                             SHMKIT_CORRUPT, SHMKIT_PERMISSION_DENIED, SHMKIT_NOT_READY,
                             SHMKIT_TIMEOUT, SHMKIT_WOULD_BLOCK, SHMKIT_OWNER_DIED,
                             SHMKIT_DEADLOCK, SHMKIT_NOT_RECOVERABLE, SHMKIT_OUT_OF_BOUNDS,
                             SHMKIT_INVALID_ARGUMENT, SHMKIT_UNSUPPORTED, SHMKIT_IO,
                             SHMKIT_NOT_OWNER, SHMKIT_OVER_RELEASE, SHMKIT_BROKEN_BARRIER,
                             SHMKIT_NULL_ARGUMENT, SHMKIT_PANIC, SHMKIT_NOT_LOCKED,
                             SHMKIT_INVALID_HANDLE, SHMKIT_UNKNOWN_ERROR};
        size_t i;
        for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
            const char *m = shmkit_status_message(codes[i]);
            CHECK(m != NULL && strlen(m) > 0 && strcmp(m, "unknown status") != 0);
        }
    }

    /* unlink: NULL, bad names, missing, and a real one. */
    EXPECT(shmkit_unlink(NULL), SHMKIT_NULL_ARGUMENT);
    CHECK(strstr(shmkit_last_error_message(), "NULL") != NULL);
    EXPECT(shmkit_unlink("bad/name"), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_unlink(""), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_unlink("\xff\xfe"), SHMKIT_INVALID_NAME);
    EXPECT(shmkit_unlink(name_of("missing")), SHMKIT_NOT_FOUND);
    CHECK(strstr(shmkit_last_error_message(), name_of("missing")) != NULL);
    {
        shmkit_mutex *m = NULL, *m2 = NULL;
        OK(shmkit_mutex_create(name_of("unlinked"), &m));
        OK(shmkit_unlink(name_of("unlinked")));
        EXPECT(shmkit_mutex_open(name_of("unlinked"), &m2), SHMKIT_NOT_FOUND);
        CHECK(m2 == NULL);
        OK(shmkit_mutex_lock(m)); /* still usable through the handle */
        OK(shmkit_mutex_unlock(m));
        OK(shmkit_mutex_close(&m));
    }

    /* A panic inside the library becomes a status. */
    EXPECT(shmkit_test_panic(), SHMKIT_PANIC);
    CHECK(strstr(shmkit_last_error_message(), "panicked") != NULL);

    /* A handle of another kind is detected, not trusted. */
    {
        shmkit_mutex *m = NULL;
        OK(shmkit_mutex_create(name_of("kind"), &m));
        EXPECT(shmkit_value_lock((const shmkit_value *)(const void *)m), SHMKIT_INVALID_HANDLE);
        EXPECT(shmkit_array_unlock((const shmkit_array *)(const void *)m), SHMKIT_INVALID_HANDLE);
        EXPECT(shmkit_segment_size((const shmkit_segment *)(const void *)m, &(size_t){0}),
               SHMKIT_INVALID_HANDLE);
        OK(shmkit_mutex_close(&m));
    }

    /* The last error is per thread and survives successful calls. */
    EXPECT(shmkit_unlink(name_of("missing2")), SHMKIT_NOT_FOUND);
    OK(shmkit_status_message(SHMKIT_OK) ? SHMKIT_OK : SHMKIT_PANIC);
    CHECK(strstr(shmkit_last_error_message(), "missing2") != NULL);

    return finish();
}
