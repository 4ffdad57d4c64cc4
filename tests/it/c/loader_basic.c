/* Opens an image of the example through the C ABI, calls two functions, reads the image data,
 * checks the error paths; prints one line. Portable: Linux and Windows. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aotload.h"

int main(int argc, char **argv) {
    if (argc != 2) return 9;
    if (aotload_open("/nonexistent/image.so") != NULL) return 10;
    if (strstr(aotload_last_error(), "image.so") == NULL) return 11;

    aotload_image *img = aotload_open(argv[1]);
    if (!img) { printf("open: %s\n", aotload_last_error()); return 12; }
    int64_t (*prime_at)(int64_t) = (int64_t (*)(int64_t))aotload_lookup(img, "prime_at");
    int64_t (*apply_op)(int64_t, int64_t, int64_t) =
        (int64_t (*)(int64_t, int64_t, int64_t))aotload_lookup(img, "apply_op");
    if (!prime_at || !apply_op) return 13;
    if (aotload_lookup(img, "no_such_function") != NULL) return 14;
    if (aotload_lookup(img, "prime_at\xff") != NULL) return 17;
    if (strstr(aotload_last_error(), "not UTF-8") == NULL) return 18;
    size_t len = 0;
    const uint8_t *data = aotload_image_data(img, &len);
    if (aotload_fptr(img, aotload_nfvars(img)) != NULL) return 15;
    if (aotload_gvar(img, aotload_ngvars(img)) != NULL) return 16;
    printf("prime_at(10)=%d apply_op(2,6,7)=%d data=%u first=%c target=%s\n", (int)prime_at(10),
           (int)apply_op(2, 6, 7), (unsigned)len, data[0], aotload_target_name(img));
    aotload_close(img);
    return 0;
}
