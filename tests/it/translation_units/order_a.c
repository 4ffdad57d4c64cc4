/* Three files whose constructors append to one array: a linker runs them in the order of its
   inputs, so the array reads 1 2 3. This one's cannot run at compile time (getenv); the
   others' can, and LLVM's GlobalOpt ran those first. */
#include <stdlib.h>
int order[8];
int count;
__attribute__((constructor)) static void first(void) {
  order[count++] = getenv("AOTLINK_TEST_NEVER_SET") ? 10 : 1;
}
