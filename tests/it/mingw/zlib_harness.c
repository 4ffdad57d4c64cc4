/* Drives zlib through its public API: checksums of a known string (their values are zlib's
 * documented ones), then compress/uncompress round trips at several sizes and levels, printing
 * what a different build of the same sources must print too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zlib.h"

int main(void) {
    const char *fox = "The quick brown fox jumps over the lazy dog";
    printf("crc32 %08lx\n", crc32(0L, (const Bytef *)fox, (uInt)strlen(fox)));
    printf("adler32 %08lx\n", adler32(1L, (const Bytef *)fox, (uInt)strlen(fox)));
    unsigned long state = 12345;
    for (int size = 1; size <= 1 << 20; size *= 7) {
        unsigned char *data = malloc(size), *back = malloc(size);
        /* Compressible: a few symbols, runs of random length. */
        for (int i = 0; i < size;) {
            state = state * 6364136223846793005UL + 1442695040888963407UL;
            int run = 1 + (int)((state >> 33) % 17);
            unsigned char symbol = (unsigned char)('a' + (state >> 50) % 6);
            for (int k = 0; k < run && i < size; k++) data[i++] = symbol;
        }
        for (int level = 1; level <= 9; level += 4) {
            uLongf packed_len = compressBound(size);
            unsigned char *packed = malloc(packed_len);
            int rc = compress2(packed, &packed_len, data, size, level);
            uLongf back_len = size;
            int rc2 = uncompress(back, &back_len, packed, packed_len);
            int same = rc == Z_OK && rc2 == Z_OK && back_len == (uLongf)size &&
                       memcmp(back, data, size) == 0;
            printf("size %d level %d packed %lu crc %08lx %s\n", size, level,
                   (unsigned long)packed_len, crc32(0L, packed, (uInt)packed_len),
                   same ? "round-trips" : "BROKEN");
            free(packed);
        }
        free(data);
        free(back);
    }
    printf("end\n");
    return 0;
}
