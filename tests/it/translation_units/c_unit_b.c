#include "c_units.h"
int common_x;
int common_arr[4];
static int counter = 1000;
static int helper(int v) { return v * 2 + counter++; }
int policy(int v) { return v * 100; }   /* strong overrides a.c's weak */
extern inline int sq(int v);            /* the external definition of sq */
__attribute__((constructor(200))) static void b_200(void) { log_[nlog++] = 2200; }
__attribute__((constructor)) static void b_def(void) { log_[nlog++] = 2; common_arr[1] = 7; }
__attribute__((constructor(150))) static void b_150(void) { log_[nlog++] = 2150; }
long b_entry(long v) { common_x += (int)v; return helper(v) + common_x + sq(v + 1); }
long get_log(long i) { return i < 0 ? nlog : log_[i]; }
long get_common(long i) { return common_x; }
