// The header compiles as C++11 with every warning an error.
#include "shmkit.h"

struct point {
    double x, y;
};

static const shmkit_type point_type = SHMKIT_TYPE(point, "point");

int main() {
    shmkit_value *v = nullptr;
    shmkit_status s = shmkit_value_open("cxx-point", &point_type, &v);
    return s == SHMKIT_OK ? shmkit_value_close(&v) : 0;
}
