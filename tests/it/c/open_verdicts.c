/* Opens one image twice with the verdict cache on disk in a directory, and prints how each open
 * verified the bytes (aotload_verification: 0 hashed, 1 signature, 2 remembered in this
 * process, 3 remembered on disk), on one line: "0 2". With "off" instead of a directory, the
 * cache on disk is turned off. Exits 7 when a mode that is not 1, 0 or -1 is accepted.
 *
 * usage: open_verdicts DIR|off IMAGE */
#include <stdio.h>
#include <string.h>

#include "aotload.h"

int main(int argc, char **argv) {
    if (argc != 3) return 9;
    aotload_options *options = aotload_options_new();
    if (!options) return 9;
    if (aotload_options_disk_verdicts(options, 7) != -1) return 7;
    int set = strcmp(argv[1], "off") ? aotload_options_disk_verdicts_dir(options, argv[1])
                                     : aotload_options_disk_verdicts(options, 0);
    if (set != 0) return 8;
    for (int i = 0; i < 2; i++) {
        aotload_image *image = aotload_open_opts(NULL, argv[2], options);
        if (!image) {
            printf("refused %s\n", aotload_last_error());
            return 1;
        }
        printf(i ? " %d\n" : "%d", aotload_verification(image));
        aotload_close(image);
    }
    aotload_options_free(options);
    return 0;
}
