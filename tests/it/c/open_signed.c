/* Opens images through aotload_open_opts with load options built from the command line, in
 * order: each option changes the current options, each other argument is an image opened with
 * them. Prints one line per image: "ok" followed by " signing_answer(11)=N" when the image has
 * that function, or "refused <error>". A key the options refuse prints "trust refused <error>".
 *
 *   --require        require a signature by a trusted key
 *   --trust-file P   trust the public key in file P (aotload_options_trust_key_file)
 *   --trust-hex H    trust the 32-byte key written as 64 hex digits (aotload_options_trust_key)
 *   --reset          start again from the default options
 *
 * usage: open_signed [OPTION | IMAGE]... */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aotload.h"

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int main(int argc, char **argv) {
    aotload_options *options = aotload_options_new();
    if (!options) return 9;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--require")) {
            aotload_options_require_signature(options, 1);
        } else if (!strcmp(arg, "--reset")) {
            aotload_options_free(options);
            if (!(options = aotload_options_new())) return 9;
        } else if (!strcmp(arg, "--trust-file") && i + 1 < argc) {
            if (aotload_options_trust_key_file(options, argv[++i]) != 0)
                printf("trust refused %s\n", aotload_last_error());
        } else if (!strcmp(arg, "--trust-hex") && i + 1 < argc) {
            const char *hex = argv[++i];
            uint8_t key[32];
            if (strlen(hex) != 64) return 8;
            for (int b = 0; b < 32; b++) {
                int hi = hex_digit(hex[2 * b]), lo = hex_digit(hex[2 * b + 1]);
                if (hi < 0 || lo < 0) return 8;
                key[b] = (uint8_t)(hi << 4 | lo);
            }
            if (aotload_options_trust_key(options, key) != 0)
                printf("trust refused %s\n", aotload_last_error());
        } else {
            aotload_image *image = aotload_open_opts(NULL, arg, options);
            if (!image) {
                printf("refused %s\n", aotload_last_error());
            } else {
                long long (*answer)(long long) =
                    (long long (*)(long long))aotload_lookup(image, "signing_answer");
                printf("ok");
                if (answer) printf(" signing_answer(11)=%lld", answer(11));
                printf("\n");
                aotload_close(image);
            }
        }
        fflush(stdout);
    }
    aotload_options_free(options);
    return 0;
}
