/* Zero-copy: a camera process writes 64 KiB frames straight into the queue's shared
 * memory (shmkit_queue_reserve, fill, shmkit_queue_commit); a viewer process reads them
 * where they lie (shmkit_queue_get_ref, shmkit_queue_release). Frame 13 is given up
 * (shmkit_queue_abort) and never delivered. The C port of examples/zero_copy.rs.
 *
 *   make && ./build/zero_copy [name-prefix] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmkit.h"

#define FRAMES 50
#define PIXELS (65536 - 16)

struct frame {
    uint64_t number;
    uint32_t width, height;
    uint8_t pixels[PIXELS];
};
static const shmkit_type frame_type = SHMKIT_TYPE(struct frame, "example-c-frame");

static int fail(const char *what, shmkit_status s) {
    fprintf(stderr, "%s: %s (%s)\n", what, shmkit_status_message(s), shmkit_last_error_message());
    return 1;
}

static int camera(const char *name) {
    shmkit_queue *q = NULL;
    shmkit_queue_slot slot;
    shmkit_status s;
    uint64_t n;
    size_t i;
    if ((s = shmkit_queue_open(name, &frame_type, &q)) != SHMKIT_OK) return fail("open", s);
    for (n = 0; n < FRAMES; n++) {
        struct frame *f;
        /* Waits while the queue is full; slot.data is the slot in shared memory. */
        if ((s = shmkit_queue_reserve(q, -1, &slot)) != SHMKIT_OK) return fail("reserve", s);
        f = slot.data;
        f->number = n;
        f->width = 128;
        f->height = 511;
        for (i = 0; i < PIXELS; i++) f->pixels[i] = (uint8_t)(i + n);
        s = n == 13 ? shmkit_queue_abort(q, &slot) : shmkit_queue_commit(q, &slot);
        if (s != SHMKIT_OK) return fail("commit", s);
    }
    shmkit_queue_close(&q);
    return 0;
}

int main(int argc, char **argv) {
    char name[128];
    shmkit_queue *q = NULL;
    shmkit_queue_slot slot;
    shmkit_status s;
    int seen = 0, status = 0, bad = 0;
    pid_t pid;
    snprintf(name, sizeof name, "%s-zero-copy-%d", argc > 1 ? argv[1] : "c-example", (int)getpid());
    if ((s = shmkit_queue_create(name, &frame_type, 4, &q)) != SHMKIT_OK) return fail("create", s);
    pid = fork();
    if (pid == 0) _exit(camera(name));
    for (int i = 0; i < FRAMES - 1; i++) {
        const struct frame *f;
        /* Waits while the queue is empty; the frame is read in place. */
        if ((s = shmkit_queue_get_ref(q, -1, &slot)) != SHMKIT_OK) return fail("get_ref", s);
        f = slot.data;
        if (f->number == 13 || f->pixels[100] != (uint8_t)(100 + f->number)) bad++;
        seen++;
        if ((s = shmkit_queue_release(q, &slot)) != SHMKIT_OK) return fail("release", s);
    }
    waitpid(pid, &status, 0);
    printf("viewer read %d frames in place, frame 13 never arrived\n", seen);
    shmkit_queue_close(&q); /* the creating handle removes the name */
    return bad || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}
