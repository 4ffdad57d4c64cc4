/* Two builds of this file (-DTAG=1, -DTAG=2) are two images that tell which one runs: the
 * result combines the function's own constant and what the image's constructor set. */
static long from_constructor;

__attribute__((constructor)) static void set_up(void) { from_constructor = TAG; }

long which(void) { return TAG * 10 + from_constructor; }
