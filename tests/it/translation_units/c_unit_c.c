#include "c_units.h"
static int helper(int v) { return v - 1; }
extern int weak_data;
int weak_data = 50;   /* strong data overrides weak */
__attribute__((weak)) long maybe_missing(long);
long c_entry(long v) { struct point p = {sq(v), cube(v)}; return helper(p.x + p.y) + weak_data + (maybe_missing ? 1000 : 0); }
