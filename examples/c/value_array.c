/* A child sets a shared double to 3.14 and element 0 of a shared int32 array (0..9) to
 * 5; the parent sees both. The C port of the `value_array` seed scenario.
 *
 *   make && ./build/value_array [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

static const shmkit_type f64_type = SHMKIT_TYPE(double, "f64");
static const shmkit_type i32_type = SHMKIT_TYPE(int32_t, "i32");

static int child(const char *num_name, const char *arr_name) {
    shmkit_value *num = NULL;
    shmkit_array *arr = NULL;
    const double pi = 3.14;
    const int32_t five = 5;
    int ok = shmkit_value_open(num_name, &f64_type, &num) == SHMKIT_OK &&
             shmkit_array_open(arr_name, &i32_type, &arr) == SHMKIT_OK &&
             shmkit_value_store(num, &pi, sizeof pi) == SHMKIT_OK &&
             shmkit_array_write(arr, 0, 1, &five) == SHMKIT_OK;
    shmkit_value_close(&num);
    shmkit_array_close(&arr);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *prefix = argc > 1 ? argv[1] : "example";
    char num_name[128], arr_name[128];
    shmkit_value *num = NULL;
    shmkit_array *arr = NULL;
    const double zero = 0.0;
    int32_t init[10], got[10];
    double value = 0;
    int i, status = 0, ok;
    pid_t pid;

    snprintf(num_name, sizeof num_name, "%s-num", prefix);
    snprintf(arr_name, sizeof arr_name, "%s-arr", prefix);
    for (i = 0; i < 10; i++) init[i] = i;
    if (shmkit_value_create(num_name, &f64_type, &zero, &num) != SHMKIT_OK ||
        shmkit_array_create(arr_name, &i32_type, 10, &arr) != SHMKIT_OK ||
        shmkit_array_write(arr, 0, 10, init) != SHMKIT_OK) {
        fprintf(stderr, "setup: %s\n", shmkit_last_error_message());
        shmkit_value_close(&num);
        shmkit_array_close(&arr);
        return 1;
    }

    pid = fork();
    if (pid == 0) _exit(child(num_name, arr_name));
    ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0 && shmkit_value_load(num, &value, sizeof value) == SHMKIT_OK &&
         shmkit_array_read(arr, 0, 10, got) == SHMKIT_OK;
    if (ok) {
        printf("parent sees %.2f and %d (array:", value, (int)got[0]);
        for (i = 0; i < 10; i++) printf(" %d", (int)got[i]);
        printf(")\n");
        ok = value == 3.14 && got[0] == 5 && got[9] == 9;
    }
    shmkit_value_close(&num);
    shmkit_array_close(&arr);
    return ok ? 0 : 1;
}
