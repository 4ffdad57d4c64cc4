#include "library.h"
#include <cstdlib>
namespace lib {
Node::~Node() {}
long Stats::created = 0;
std::string Num::str() const { return std::to_string(v); }
long Num::weight() const { return v < 0 ? -v : v; }
std::string List::str() const { std::string s = "["; for (auto &i : items) { if (s.size() > 1) s += ","; s += i->str(); } return s + "]"; }
long List::weight() const { long w = 0; for (auto &i : items) w += i->weight(); return w; }
static long helper(long x) { return x * 3; }   // same name as in b.cpp
namespace { long anon(long x) { return x + 1000; } }
// Not to be run at compile time (getenv): the other units' constructors can be.
static int a_order = next_id() + (std::getenv("AOTLINK_TEST_NEVER_SET") ? 1000 : 0);
long make_and_register(const char *name, long v) { Registry<long>::add(name, v + helper(1) + anon(0)); Stats::created++; return Registry<long>::count; }
}
extern "C" long a_entry(long x) { lib::tl_calls++; return lib::helper(x) + lib::anon(x) + lib::sum(std::vector<long>{x, x}) + lib::a_order; }
