/* caller LIBRARY NAME:ARG...: loads the library and prints what each call NAME(ARG) returns,
   in order (state carries from one call to the next), every function taking and returning a
   long. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
  for (int i = 2; i < argc; i++) {
    char name[256];
    snprintf(name, sizeof name, "%s", argv[i]);
    char *colon = strchr(name, ':');
    long arg = 0;
    if (colon) { *colon = 0; arg = strtol(colon + 1, 0, 10); }
    long (*f)(long) = (long (*)(long))dlsym(h, name);
    if (!f) { printf("%s: not found\n", name); continue; }
    printf("%s(%ld) = %ld\n", name, arg, f(arg));
    fflush(stdout);
  }
  return 0;
}
