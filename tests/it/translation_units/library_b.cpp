#include "library.h"
namespace lib {
static long helper(long x) { return x * 5; }
namespace { long anon(long x) { return x + 2000; } }
static int b_order = next_id();
long lookup(const char *name) { auto &t = Registry<long>::table(); auto it = t.find(name); return it == t.end() ? -1 : it->second; }
long tu_b(long x) { tl_calls++; Doubler d; Num n(x); Visitor &v = d; return helper(x) + anon(x) + v.visit(n) + Registry<std::string>::count + inline_var + Stats::inl + sum(std::vector<double>{1.5, 2.5}); }
}
extern "C" long b_entry(long x) { lib::inline_var++; lib::Stats::inl++; return lib::tu_b(x) + lib::b_order + lib::next_id(); }
extern "C" long b_lookup(long x) { return lib::lookup(x ? "one" : "two"); }
