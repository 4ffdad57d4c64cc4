#include "library.h"
#include <stdexcept>
namespace lib {
static long helper(long x) { return x * 7; }
namespace { long anon(long x) { return x + 3000; } struct Local : Node { std::string str() const override { return "local"; } }; }
std::string describe(long n) {
  auto l = std::make_unique<List>();
  for (long i = 0; i < n; i++) l->items.push_back(std::make_unique<Num>(i - 2));
  l->items.push_back(std::make_unique<Local>());
  Doubler d; Visitor v;
  return l->str() + " w=" + std::to_string(l->weight()) + " d=" + std::to_string(d.visit(*l)) + " v=" + std::to_string(v.visit(*l));
}
long tu_c(long x) { tl_calls++; Registry<std::string>::add("k" + std::to_string(x), "v"); if (x < 0) throw std::runtime_error("neg"); return helper(x) + anon(x) + Registry<std::string>::count; }
}
extern "C" long c_entry(long x) { try { return lib::tu_c(x) + lib::next_id(); } catch (const std::exception &e) { return -(long)std::string(e.what()).size(); } }
extern "C" long register_one(long v) { return lib::make_and_register(v ? "one" : "two", v); }
extern "C" long counter_value(long) { return lib::counter() + lib::Stats::created * 1000 + lib::inline_var * 100000 + lib::Stats::inl * 10000000; }
extern "C" long tl_value(long) { return lib::tl_calls; }
extern "C" long describe_len(long n) { std::string s = lib::describe(n); printf("%s\n", s.c_str()); return (long)s.size(); }
extern "C" long rtti(long x) { lib::Num n(x); const lib::Node &r = n; return dynamic_cast<const lib::Num *>(&r) ? 1 : 0; }
