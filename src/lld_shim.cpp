// LLD 19 inside the process: one entry point that runs the ELF, Mach-O, COFF or MinGW driver
// through lld::lldMain and hands back everything LLD printed. lld_rs, which did this for LLD
// 14, has no LLVM 19 release.
//
// LLD keeps global state between the start and the end of a link; lldMain resets it after
// each link (CommonLinkerContext::destroy) and reports whether another link may follow.
// Callers serialize calls (src/link/lld.rs holds a lock).

#include <lld/Common/Driver.h>
#include <llvm/ADT/ArrayRef.h>
#include <llvm/Support/raw_ostream.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

LLD_HAS_DRIVER(elf)
LLD_HAS_DRIVER(coff)
LLD_HAS_DRIVER(macho)
LLD_HAS_DRIVER(mingw)

extern "C" {

// Links with `argc` arguments (argv[0] names the flavor as LLD's own executables do:
// "ld.lld", "ld64.lld", "lld-link"; "-m i386pep" after "ld.lld" picks MinGW). Returns LLD's
// exit code; *output gets what LLD wrote to stdout and stderr (free with
// aotlink_lld_free), *can_run_again is 0 when LLD's state could not be reset.
int aotlink_lld_link(const char *const *argv, size_t argc, char **output,
                     int *can_run_again) {
    std::string text;
    llvm::raw_string_ostream out(text);
    std::vector<const char *> args(argv, argv + argc);
    lld::Result result = lld::lldMain(args, out, out,
                                      {{lld::Gnu, &lld::elf::link},
                                       {lld::WinLink, &lld::coff::link},
                                       {lld::Darwin, &lld::macho::link},
                                       {lld::MinGW, &lld::mingw::link}});
    out.flush();
    *output = strdup(text.c_str());
    *can_run_again = result.canRunAgain ? 1 : 0;
    return result.retCode;
}

void aotlink_lld_free(char *p) { free(p); }

}  // extern "C"
