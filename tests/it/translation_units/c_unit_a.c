#include "c_units.h"
int common_x;            /* tentative, -fcommon */
int common_arr[4];
int log_[32]; int nlog;
static int counter = 10;
static int helper(int v) { return v + counter++; }
__attribute__((weak)) int policy(int v) { return v + 1; }
__attribute__((weak)) int weak_data = 5;
__attribute__((constructor(200))) static void a_200(void) { log_[nlog++] = 200; }
__attribute__((constructor)) static void a_def(void) { log_[nlog++] = 1; }
__attribute__((constructor(101))) static void a_101(void) { log_[nlog++] = 101; }
__attribute__((destructor)) static void a_fini(void) { }
long a_entry(long v) { common_x += (int)v; return helper(v) + policy(v) + weak_data + sq(v) + cube(2) + common_arr[1]; }
