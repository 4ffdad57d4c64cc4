// What aotlink needs from LLVM's C++ API that its C API does not offer: resolving a CPU name
// plus feature changes to the full feature set (MCSubtargetInfo), listing the CPUs and the
// instruction-set features LLVM knows, cloning a function within its module (CloneFunction),
// turning a function into a declaration (deleteBody), putting C constructors in
// .init_array (TargetOptions::UseInitArray), copying one shard's definitions out of the
// program (CloneModule with a predicate), and spelling out the default optimization pipeline
// (PassBuilder, printPipeline) so that it can run in two parts.

#include <llvm/ADT/StringRef.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ValueMapper.h>
#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include <cstdlib>
#include <unordered_set>
#include <vector>
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

// A new module (in the same context) holding the definitions of `m` named in `names` and a
// declaration of everything those reference. LLVM's own globals (`llvm.used`,
// `llvm.global_ctors`) stay only when `keep_special`. What the shard never references is not
// declared, so its bitcode changes only when something it uses does (the shard cache's key).
LLVMModuleRef aotlink_shim_clone_shard(LLVMModuleRef m, const char *const *names, size_t count,
                                       int keep_special) {
    llvm::Module *program = llvm::unwrap(m);
    std::unordered_set<const llvm::GlobalValue *> keep;
    for (size_t i = 0; i < count; i++) {
        if (const llvm::GlobalValue *g = program->getNamedValue(names[i])) {
            keep.insert(g);
        }
    }
    auto is_special = [](const llvm::GlobalValue &g) { return g.getName().starts_with("llvm."); };
    llvm::ValueToValueMapTy map;
    std::unique_ptr<llvm::Module> shard =
        llvm::CloneModule(*program, map, [&](const llvm::GlobalValue *g) {
            return keep.count(g) != 0 || (keep_special && is_special(*g));
        });
    // CloneModule declares an alias it does not copy with default visibility; keep the
    // alias's, so references to a hidden one stay PC-relative.
    for (const llvm::GlobalAlias &alias : program->aliases()) {
        if (keep.count(&alias) == 0) {
            if (auto *declared = llvm::dyn_cast_or_null<llvm::GlobalValue>(map.lookup(&alias))) {
                declared->setVisibility(alias.getVisibility());
                declared->setDSOLocal(alias.isDSOLocal());
            }
        }
    }
    std::vector<llvm::GlobalValue *> unused;
    for (llvm::GlobalVariable &g : shard->globals()) {
        if (g.isDeclaration() && (g.use_empty() || is_special(g))) {
            unused.push_back(&g);
        }
    }
    for (llvm::Function &f : *shard) {
        if (f.isDeclaration() && f.use_empty()) {
            unused.push_back(&f);
        }
    }
    for (llvm::GlobalValue *g : unused) {
        if (g->use_empty()) {
            g->eraseFromParent();
        }
    }
    return llvm::wrap(shard.release());
}

// LLVM's `default<O2>` module pipeline for `machine`, tuned as clang -O2 tunes it (loop and
// SLP vectorization, interleaving and unrolling on), in `opt -passes` syntax: the text
// `opt -print-pipeline-passes` prints, which parses back into the same passes. Free with
// aotlink_shim_free.
char *aotlink_shim_o2_pipeline(LLVMTargetMachineRef machine) {
    llvm::PipelineTuningOptions tuning;
    tuning.LoopVectorization = true;
    tuning.SLPVectorization = true;
    tuning.LoopInterleaving = true;
    tuning.LoopUnrolling = true;
    // Given the callbacks, the pass builder registers every pass's class under its
    // pipeline name, which is how printPipeline spells passes.
    llvm::PassInstrumentationCallbacks callbacks;
    llvm::PassBuilder builder(reinterpret_cast<llvm::TargetMachine *>(machine), tuning,
                              std::nullopt, &callbacks);
    llvm::ModulePassManager pipeline =
        builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
    std::string text;
    llvm::raw_string_ostream out(text);
    pipeline.printPipeline(out, [&](llvm::StringRef class_name) {
        llvm::StringRef pass_name = callbacks.getPassNameForClassName(class_name);
        return pass_name.empty() ? class_name : pass_name;
    });
    out.flush();
    return strdup(text.c_str());
}

}  // extern "C"
