/* A small C++ library over three translation units (library_a.cpp, _b, _c), each compiled
   to its own IR file: what every unit instantiates (inline functions and their function-local
   statics, templates and their static members, C++17 inline variables, vtables of classes
   without a key function, a thread_local in the header) must exist once in the image, and the
   units' own `static` and anonymous-namespace functions, of one name, stay apart. */
#pragma once
#include <string>
#include <vector>
#include <map>
#include <memory>
#include <cstdio>
namespace lib {
struct Node { virtual ~Node(); virtual std::string str() const = 0; virtual long weight() const { return 1; } };
struct Num : Node { long v; explicit Num(long v) : v(v) {} std::string str() const override; long weight() const override; };
struct List : Node { std::vector<std::unique_ptr<Node>> items; std::string str() const override; long weight() const override; };
// inline function with a function-local static: one counter for the whole library
inline long &counter() { static long c = 100; return c; }
inline long next_id() { return ++counter(); }
template <typename T> struct Registry {
  static std::map<std::string, T> &table() { static std::map<std::string, T> t; return t; }
  static int count; // static data member of a template
  static void add(const std::string &k, T v) { table()[k] = v; ++count; }
};
template <typename T> int Registry<T>::count = 0;
inline int inline_var = 7; // C++17 inline variable
struct Stats { static long created; static inline long inl = 5; };
inline thread_local long tl_calls = 0;
template <typename T> T sum(const std::vector<T> &v) { T s{}; for (auto &x : v) s += x; return s; }
// An inline class with a vtable emitted in every TU that uses it (no key function)
struct Visitor { virtual ~Visitor() = default; virtual long visit(const Node &n) { return n.weight(); } };
struct Doubler : Visitor { long visit(const Node &n) override { return 2 * n.weight(); } };
long make_and_register(const char *name, long v);
long lookup(const char *name);
long tu_b(long x);
long tu_c(long x);
std::string describe(long n);
}
