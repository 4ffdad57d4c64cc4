// What aotlink needs from LLVM's C++ API that its C API does not offer: resolving a CPU name
// plus feature changes to the full feature set (MCSubtargetInfo), listing the CPUs and the
// instruction-set features LLVM knows, cloning a function within its module (CloneFunction),
// turning a function into a declaration (deleteBody), and putting C constructors in
// .init_array (TargetOptions::UseInitArray).

#include <llvm/ADT/StringRef.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ValueMapper.h>
#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

extern "C" {

// Resolves `cpu` with `features` ("+a,-b") for `triple`. For each of the `count` feature
// names in `names`, enabled[i] says whether the resolved set includes it.
// Returns 0 on success, 1 when LLVM has no target for the triple (message in *error,
// free with aotlink_shim_free), 2 when the CPU name is unknown.
int aotlink_shim_resolve_cpu(const char *triple, const char *cpu, const char *features,
                             const char *const *names, size_t count, unsigned char *enabled,
                             char **error) {
    std::string message;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, message);
    if (!target) {
        *error = strdup(message.c_str());
        return 1;
    }
    // Check the name first: creating a subtarget for an unknown CPU prints a warning.
    std::unique_ptr<llvm::MCSubtargetInfo> generic(target->createMCSubtargetInfo(triple, "", ""));
    if (!generic || !generic->isCPUStringValid(cpu)) {
        return 2;
    }
    std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, cpu, features));
    for (size_t i = 0; i < count; i++) {
        std::string flag = std::string("+") + names[i];
        enabled[i] = sti->checkFeatures(flag) ? 1 : 0;
    }
    return 0;
}

// Whether LLVM knows feature `name` for `triple` (enabling and disabling it differ).
// LLVM prints a warning for unknown names: for tests of the feature list only.
int aotlink_shim_feature_known(const char *triple, const char *name) {
    std::string message;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, message);
    if (!target) {
        return 0;
    }
    std::unique_ptr<llvm::MCSubtargetInfo> on(
        target->createMCSubtargetInfo(triple, "", std::string("+") + name));
    std::unique_ptr<llvm::MCSubtargetInfo> off(
        target->createMCSubtargetInfo(triple, "", std::string("-") + name));
    return on->getFeatureBits() != off->getFeatureBits();
}

void aotlink_shim_free(char *p) { free(p); }

// Comma-separated names of every CPU LLVM knows for `triple` (NULL when it has no target).
char *aotlink_shim_cpu_names(const char *triple) {
    std::string message;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, message);
    if (!target) {
        return nullptr;
    }
    std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, "", ""));
    std::string names;
    for (const llvm::SubtargetSubTypeKV &cpu : sti->getAllProcessorDescriptions()) {
        names += names.empty() ? "" : ",";
        names += cpu.Key;
    }
    return strdup(names.c_str());
}

// Comma-separated features enabled by `cpu` plus `features` ("+a,-b") for `triple`, without
// any tuning CPU: what the instruction set of such a CPU is, not how LLVM schedules for it.
// NULL when LLVM has no target for the triple or does not know the CPU.
char *aotlink_shim_isa_features(const char *triple, const char *cpu, const char *features) {
    std::string message;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, message);
    if (!target) {
        return nullptr;
    }
    std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, "", ""));
    if (!sti || (*cpu && !sti->isCPUStringValid(cpu))) {
        return nullptr;
    }
    sti->setDefaultFeatures(cpu, "", features);
    std::string names;
    for (const llvm::SubtargetFeatureKV &feature : sti->getEnabledProcessorFeatures()) {
        names += names.empty() ? "" : ",";
        names += feature.Key;
    }
    return strdup(names.c_str());
}

// Copies function `f` into its own module under `name`; returns the copy.
LLVMValueRef aotlink_shim_clone_function(LLVMValueRef f, const char *name) {
    llvm::Function *original = llvm::unwrap<llvm::Function>(f);
    llvm::ValueToValueMapTy map;
    llvm::Function *copy = llvm::CloneFunction(original, map);
    copy->setName(name);
    return llvm::wrap(copy);
}

// Drops the body of function `f` (all references first, so blocks that branch to each other
// or whose addresses are taken go cleanly), leaving a declaration.
void aotlink_shim_delete_body(LLVMValueRef f) { llvm::unwrap<llvm::Function>(f)->deleteBody(); }

// Makes ELF code put constructors and destructors in .init_array/.fini_array, as clang does,
// instead of LLVM's default .ctors/.dtors: those only run through crtbegin.o, which an image
// linked by LLD does not have, so its constructors would never run. Read when code is emitted
// (the object file lowering is initialized then); no effect on COFF or Mach-O.
void aotlink_shim_use_init_array(LLVMTargetMachineRef machine) {
    reinterpret_cast<llvm::TargetMachine *>(machine)->Options.UseInitArray = true;
}

}  // extern "C"
