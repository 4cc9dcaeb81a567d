/* shmkit_value_*: typed values, type checks, the lock pair, owner death, atomics. */
#include "check.h"

struct point {
    double x, y;
};

static const shmkit_type point_type = SHMKIT_TYPE(struct point, "point");
static const shmkit_type i64_type = SHMKIT_TYPE(int64_t, "i64");
static const shmkit_type u64_type = SHMKIT_TYPE(uint64_t, "u64");

static void type_checks(void) {
    const char *name = name_of("types");
    shmkit_value *v = NULL, *w = NULL;
    struct point p = {1.5, -2.5};
    const shmkit_type wrong_name = {"pointy", sizeof(struct point), 8};
    const shmkit_type wrong_size = {"point", 24, 8};
    const shmkit_type wrong_align = {"point", 16, 4};
    const shmkit_type zero_size = {"point", 0, 8};
    const shmkit_type bad_align = {"point", 16, 3};
    const shmkit_type null_name = {NULL, 16, 8};
    const shmkit_type bad_utf8 = {"\xff", 16, 8};
    const shmkit_type too_long = {"a123456789a123456789a123456789a123456789a123456789a123456789abcd",
                                  16, 8};

    EXPECT(shmkit_value_create(NULL, &point_type, &p, &v), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_create(name, NULL, &p, &v), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_create(name, &point_type, &p, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_create(name, &null_name, &p, &v), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_create(name, &zero_size, &p, &v), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_value_create(name, &bad_align, &p, &v), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_value_create(name, &bad_utf8, &p, &v), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_value_create(name, &too_long, &p, &v), SHMKIT_INVALID_ARGUMENT);
    EXPECT(shmkit_value_create("\x80", &point_type, &p, &v), SHMKIT_INVALID_NAME);
    CHECK(v == NULL);

    OK(shmkit_value_create(name, &point_type, &p, &v));
    EXPECT(shmkit_value_create(name, &point_type, &p, &w), SHMKIT_ALREADY_EXISTS);
    EXPECT(shmkit_value_open(name, &wrong_name, &w), SHMKIT_TYPE_MISMATCH);
    CHECK(strstr(shmkit_last_error_message(), "pointy") != NULL);
    CHECK(strstr(shmkit_last_error_message(), "point (size 16, align 8)") != NULL);
    EXPECT(shmkit_value_open(name, &wrong_size, &w), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_value_open(name, &wrong_align, &w), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_value_open(name, &i64_type, &w), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_value_open(NULL, &point_type, &w), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_open(name, NULL, &w), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_open(name, &point_type, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_open(name_of("nope"), &point_type, &w), SHMKIT_NOT_FOUND);
    CHECK(w == NULL);
    {
        shmkit_array *a = NULL;
        EXPECT(shmkit_array_open(name, &point_type, &a), SHMKIT_KIND_MISMATCH);
        CHECK(a == NULL);
    }

    OK(shmkit_value_open(name, &point_type, &w));
    {
        struct point q = {0, 0};
        OK(shmkit_value_load(w, &q, sizeof q));
        CHECK(q.x == 1.5 && q.y == -2.5);
        q.x = 7;
        OK(shmkit_value_store(w, &q, sizeof q));
        OK(shmkit_value_load(v, &p, sizeof p));
        CHECK(p.x == 7 && p.y == -2.5);
        EXPECT(shmkit_value_load(v, &q, 8), SHMKIT_INVALID_ARGUMENT);
        EXPECT(shmkit_value_store(v, &q, 24), SHMKIT_INVALID_ARGUMENT);
        EXPECT(shmkit_value_load(v, NULL, sizeof q), SHMKIT_NULL_ARGUMENT);
        EXPECT(shmkit_value_store(v, NULL, sizeof q), SHMKIT_NULL_ARGUMENT);
        EXPECT(shmkit_value_load(NULL, &q, sizeof q), SHMKIT_NULL_ARGUMENT);
        EXPECT(shmkit_value_store(NULL, &q, sizeof q), SHMKIT_NULL_ARGUMENT);
    }
    EXPECT(shmkit_value_close(NULL), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_value_close(&w));
    CHECK(w == NULL);
    OK(shmkit_value_close(&w));
    EXPECT(shmkit_value_load(w, &p, sizeof p), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_value_close(&v));

    /* NULL init: zeroed. */
    OK(shmkit_value_create(name, &point_type, NULL, &v));
    OK(shmkit_value_load(v, &p, sizeof p));
    CHECK(p.x == 0 && p.y == 0);
    OK(shmkit_value_close(&v));
}

static void locking(void) {
    const char *name = name_of("lock");
    shmkit_value *v = NULL;
    struct point *data = NULL;
    int to_child[2], to_parent[2];
    pid_t pid;

    OK(shmkit_value_create(name, &point_type, NULL, &v));
    EXPECT(shmkit_value_data(v, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_data(NULL, (void **)&data), SHMKIT_NULL_ARGUMENT);
    OK(shmkit_value_data(v, (void **)&data));
    CHECK(data != NULL && ((uintptr_t)data % 8) == 0);

    EXPECT(shmkit_value_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_lock_timeout(NULL, 0), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_try_lock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_unlock(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_mark_consistent(NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_unlock(v), SHMKIT_NOT_LOCKED);
    EXPECT(shmkit_value_mark_consistent(v), SHMKIT_NOT_LOCKED);

    OK(shmkit_value_lock(v));
    data->x = 3;
    EXPECT(shmkit_value_lock(v), SHMKIT_DEADLOCK);
    EXPECT(shmkit_value_load(v, &(struct point){0, 0}, sizeof(struct point)), SHMKIT_DEADLOCK);
    OK(shmkit_value_mark_consistent(v)); /* allowed while held, a no-op here */
    OK(shmkit_value_unlock(v));
    OK(shmkit_value_try_lock(v));
    OK(shmkit_value_unlock(v));
    OK(shmkit_value_lock_timeout(v, -1));
    OK(shmkit_value_unlock(v));
    OK(shmkit_value_lock_timeout(v, 1000000));
    OK(shmkit_value_unlock(v));

    /* Contention with a child that holds the lock. */
    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);
    pid = fork();
    if (pid == 0) {
        if (shmkit_value_lock(v) != SHMKIT_OK) _exit(10);
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        if (shmkit_value_unlock(v) != SHMKIT_OK) _exit(11);
        send_byte(to_parent[1]);
        wait_byte(to_child[0]);
        if (shmkit_value_lock(v) != SHMKIT_OK) _exit(12);
        send_byte(to_parent[1]);
        _exit(0); /* dies holding the lock */
    }
    wait_byte(to_parent[0]);
    EXPECT(shmkit_value_try_lock(v), SHMKIT_WOULD_BLOCK);
    EXPECT(shmkit_value_lock_timeout(v, 20 * 1000 * 1000), SHMKIT_TIMEOUT);
    EXPECT(shmkit_value_lock_timeout(v, 0), SHMKIT_TIMEOUT);
    EXPECT(shmkit_value_unlock(v), SHMKIT_NOT_LOCKED);
    send_byte(to_child[1]);
    wait_byte(to_parent[0]);
    OK(shmkit_value_lock(v));
    OK(shmkit_value_unlock(v));
    send_byte(to_child[1]);
    wait_byte(to_parent[0]);
    CHECK(wait_child(pid) == 0);

    /* Owner died: the lock is held, the data reachable, the flag stays until marked. */
    EXPECT(shmkit_value_lock(v), SHMKIT_OWNER_DIED);
    CHECK(data->x == 3);
    OK(shmkit_value_unlock(v)); /* not marked: the next locker is told too */
    EXPECT(shmkit_value_load(v, &(struct point){0, 0}, sizeof(struct point)), SHMKIT_OWNER_DIED);
    EXPECT(shmkit_value_try_lock(v), SHMKIT_OWNER_DIED);
    data->x = 4;
    OK(shmkit_value_mark_consistent(v));
    OK(shmkit_value_unlock(v));
    OK(shmkit_value_lock(v));
    OK(shmkit_value_unlock(v));

    /* Closing a handle releases a lock this thread holds through it. */
    {
        shmkit_value *w = NULL;
        OK(shmkit_value_open(name, &point_type, &w));
        OK(shmkit_value_lock(w));
        OK(shmkit_value_close(&w));
        OK(shmkit_value_try_lock(v));
        OK(shmkit_value_unlock(v));
    }
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
    OK(shmkit_value_close(&v));
}

static void atomics(void) {
    shmkit_value *v = NULL, *u = NULL, *p = NULL;
    int64_t init = 40, prev = 0, got = 0;
    uint64_t uinit = 1, uprev = 0, ugot = 0;
    bool exchanged = false;

    OK(shmkit_value_create(name_of("i64"), &i64_type, &init, &v));
    OK(shmkit_value_fetch_add_i64(v, 2, &prev));
    CHECK(prev == 40);
    OK(shmkit_value_fetch_add_i64(v, -1, NULL));
    OK(shmkit_value_load_i64(v, &got));
    CHECK(got == 41);
    OK(shmkit_value_store_i64(v, 100));
    OK(shmkit_value_compare_exchange_i64(v, 5, 6, &exchanged, &prev));
    CHECK(!exchanged && prev == 100);
    OK(shmkit_value_compare_exchange_i64(v, 100, 6, &exchanged, &prev));
    CHECK(exchanged && prev == 100);
    OK(shmkit_value_compare_exchange_i64(v, 6, 7, NULL, NULL));
    OK(shmkit_value_load(v, &got, sizeof got)); /* the same bytes, under the lock */
    CHECK(got == 7);
    EXPECT(shmkit_value_load_i64(v, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_load_i64(NULL, &got), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_store_i64(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_fetch_add_i64(NULL, 1, &prev), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_compare_exchange_i64(NULL, 1, 2, &exchanged, &prev),
           SHMKIT_NULL_ARGUMENT);
    /* The u64 forms refuse an i64 value, and vice versa. */
    EXPECT(shmkit_value_fetch_add_u64(v, 1, &uprev), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_value_load_u64(v, &ugot), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_value_store_u64(v, 1), SHMKIT_TYPE_MISMATCH);
    EXPECT(shmkit_value_compare_exchange_u64(v, 1, 2, &exchanged, &uprev), SHMKIT_TYPE_MISMATCH);

    OK(shmkit_value_create(name_of("u64"), &u64_type, &uinit, &u));
    OK(shmkit_value_fetch_add_u64(u, UINT64_MAX, &uprev)); /* wraps */
    CHECK(uprev == 1);
    OK(shmkit_value_load_u64(u, &ugot));
    CHECK(ugot == 0);
    OK(shmkit_value_store_u64(u, 9));
    OK(shmkit_value_compare_exchange_u64(u, 9, 10, &exchanged, &uprev));
    CHECK(exchanged && uprev == 9);
    EXPECT(shmkit_value_load_u64(u, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_load_u64(NULL, &ugot), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_store_u64(NULL, 1), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_fetch_add_u64(NULL, 1, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_compare_exchange_u64(NULL, 1, 2, NULL, NULL), SHMKIT_NULL_ARGUMENT);
    EXPECT(shmkit_value_fetch_add_i64(u, 1, &prev), SHMKIT_TYPE_MISMATCH);

    OK(shmkit_value_create(name_of("pt"), &point_type, NULL, &p));
    EXPECT(shmkit_value_fetch_add_i64(p, 1, &prev), SHMKIT_TYPE_MISMATCH);

    /* Atomic increments from several processes add up. */
    {
        pid_t kids[4];
        int i;
        OK(shmkit_value_store_i64(v, 0));
        for (i = 0; i < 4; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                int k;
                for (k = 0; k < 1000; k++)
                    if (shmkit_value_fetch_add_i64(v, 1, NULL) != SHMKIT_OK) _exit(1);
                _exit(0);
            }
        }
        for (i = 0; i < 4; i++) CHECK(wait_child(kids[i]) == 0);
        OK(shmkit_value_load_i64(v, &got));
        CHECK(got == 4000);
    }

    OK(shmkit_value_close(&v));
    OK(shmkit_value_close(&u));
    OK(shmkit_value_close(&p));
}

int main(int argc, char **argv) {
    init_test(argc, argv);
    type_checks();
    locking();
    atomics();
    return finish();
}
