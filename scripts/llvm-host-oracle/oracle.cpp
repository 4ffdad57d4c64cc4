// What LLVM's own host detection answers for CPUs we describe, to check loader/src/host/cpu_names.rs
// and host/feature_bits.rs against it (see sweep.py). Links the installed libLLVM.
//
// `oracle arm`: blocks of /proc/cpuinfo text on stdin, separated by "---" lines; prints
// sys::detail::getHostCPUNameForARM's answer for each.
// `oracle x86`: blocks of "leaf subleaf eax ebx ecx edx" lines (hex), separated by "---";
// prints "name|features" as sys::getHostCPUName / getHostCPUFeatures give them. cpuid is made
// to fault (arch_prctl ARCH_SET_CPUID, which needs the cpuid_fault CPU flag) and the SIGSEGV
// handler answers it from the block. xgetbv is not faked: XCR0 is the real host's.
#include "llvm/TargetParser/Host.h"
#include "llvm/ADT/StringMap.h"
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
#include <array>
#include <string>
#include <iostream>
#include <sstream>
#include <vector>
#include <algorithm>

static std::map<std::pair<unsigned,unsigned>, std::array<unsigned,4>> table;
static bool subleafed(unsigned leaf){ return leaf==7||leaf==0xd||leaf==0x14||leaf==0x1e||leaf==0x24; }
static void handler(int, siginfo_t*, void* ctx) {
  auto *uc = (ucontext_t*)ctx;
  auto &g = uc->uc_mcontext.gregs;
  unsigned leaf = g[REG_RAX], sub = subleafed(leaf) ? (unsigned)g[REG_RCX] : 0;
  auto it = table.find({leaf, sub});
  std::array<unsigned,4> r{0,0,0,0};
  if (it != table.end()) r = it->second;
  g[REG_RAX]=r[0]; g[REG_RBX]=r[1]; g[REG_RCX]=r[2]; g[REG_RDX]=r[3];
  g[REG_RIP]+=2;
}
int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  std::stringstream in; in << std::cin.rdbuf();
  if (mode == "arm") {
    // blocks of /proc/cpuinfo text separated by "---" lines; one name per block
    std::string all = in.str(), sep = "\n---\n";
    size_t start = 0;
    while (true) {
      size_t end = all.find(sep, start);
      std::string block = all.substr(start, end == std::string::npos ? std::string::npos : end - start);
      std::cout << llvm::sys::detail::getHostCPUNameForARM(block).str() << "\n";
      if (end == std::string::npos) break;
      start = end + sep.size();
    }
    return 0;
  }
  // x86: blocks of lines "leaf subleaf eax ebx ecx edx" (hex), separated by "---"; one output line per block.
  struct sigaction sa{}; sa.sa_sigaction = handler; sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, nullptr);
  std::string line;
  auto run = [&]() {
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) { perror("ARCH_SET_CPUID"); exit(2); }
    std::string name = llvm::sys::getHostCPUName().str();
    auto f = llvm::sys::getHostCPUFeatures();
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    std::vector<std::string> on;
    for (auto &e : f) if (e.second) on.push_back(e.first().str());
    std::sort(on.begin(), on.end());
    std::cout << name << "|";
    for (auto &s : on) std::cout << s << " ";
    std::cout << "\n";
    table.clear();
  };
  bool any = false;
  while (std::getline(in, line)) {
    if (line == "---") { run(); any = false; continue; }
    if (line.empty()) continue;
    std::istringstream l(line); unsigned a[6];
    for (auto &x : a) l >> std::hex >> x;
    table[{a[0],a[1]}] = {a[2],a[3],a[4],a[5]};
    any = true;
  }
  if (any) run();
}
