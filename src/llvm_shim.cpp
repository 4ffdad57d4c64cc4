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
    // isCPUStringValid accepts a target's CPU aliases (AArch64's apple-m1 is apple-a14), but
    // setDefaultFeatures looks the name up in the processor table only, where an alias is
    // missing: it printed "'apple-m1' is not a recognized processor for this target" and
    // resolved to no features. The target's own constructor resolves the alias; use its name.
    std::unique_ptr<llvm::MCSubtargetInfo> named(target->createMCSubtargetInfo(triple, cpu, ""));
    sti->setDefaultFeatures(named->getCPU(), "", features);
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

// Declarations for what a shard's code references but does not define, made when the value
// mapper first meets each reference: a shard costs its own definitions and the globals they
// use, not one new global per global of the program (which made splitting a 50,000-function
// module into 128 shards take 18 s).
class DeclareOnUse final : public llvm::ValueMaterializer {
public:
    explicit DeclareOnUse(llvm::Module &shard) : shard_(shard) {}

    llvm::Value *materialize(llvm::Value *v) override {
        auto *g = llvm::dyn_cast<llvm::GlobalValue>(v);
        if (!g) {
            return nullptr;
        }
        llvm::GlobalValue *decl = nullptr;
        if (auto *f = llvm::dyn_cast<llvm::Function>(g)) {
            llvm::Function *nf =
                llvm::Function::Create(f->getFunctionType(), llvm::GlobalValue::ExternalLinkage,
                                       f->getAddressSpace(), f->getName(), &shard_);
            nf->copyAttributesFrom(f);
            // A declaration has no personality, prefix or prologue (they would need mapping).
            nf->setPersonalityFn(nullptr);
            nf->setPrefixData(nullptr);
            nf->setPrologueData(nullptr);
            decl = nf;
        } else if (auto *gv = llvm::dyn_cast<llvm::GlobalVariable>(g)) {
            auto *ngv = new llvm::GlobalVariable(
                shard_, gv->getValueType(), gv->isConstant(), llvm::GlobalValue::ExternalLinkage,
                nullptr, gv->getName(), nullptr, gv->getThreadLocalMode(),
                gv->getType()->getAddressSpace());
            ngv->copyAttributesFrom(gv);
            decl = ngv;
        } else {
            // An alias or ifunc defined elsewhere is declared as what it stands for, with its
            // visibility, so references to a hidden one stay PC-relative.
            if (g->getValueType()->isFunctionTy()) {
                decl = llvm::Function::Create(
                    llvm::cast<llvm::FunctionType>(g->getValueType()),
                    llvm::GlobalValue::ExternalLinkage, g->getAddressSpace(), g->getName(), &shard_);
            } else {
                decl = new llvm::GlobalVariable(
                    shard_, g->getValueType(), false, llvm::GlobalValue::ExternalLinkage, nullptr,
                    g->getName(), nullptr, g->getThreadLocalMode(), g->getAddressSpace());
            }
            decl->setVisibility(g->getVisibility());
            decl->setDSOLocal(g->isDSOLocal());
        }
        decl->setLinkage(llvm::GlobalValue::ExternalLinkage);
        return decl;
    }

private:
    llvm::Module &shard_;
};

// A new module (in the same context) holding the definitions of `m` named in `names` (in
// that order) and a declaration of each global they reference, nothing else. LLVM's own
// globals (`llvm.used`, `llvm.global_ctors`) come along only when `keep_special`. What the
// shard never references is not declared, so its bitcode changes only when something it uses
// does (the shard cache's key). The cost is the shard's definitions and references, whatever
// the size of `m`.
LLVMModuleRef aotlink_shim_clone_shard(LLVMModuleRef m, const char *const *names, size_t count,
                                       int keep_special) {
    const llvm::Module &program = *llvm::unwrap(m);
    auto shard = std::make_unique<llvm::Module>(program.getModuleIdentifier(),
                                                program.getContext());
    shard->setSourceFileName(program.getSourceFileName());
    shard->setDataLayout(program.getDataLayout());
    shard->setTargetTriple(program.getTargetTriple());
    shard->setModuleInlineAsm(program.getModuleInlineAsm());

    std::vector<const llvm::GlobalValue *> defs;
    for (size_t i = 0; i < count; i++) {
        const llvm::GlobalValue *g = program.getNamedValue(names[i]);
        if (g && !g->isDeclaration()) {
            defs.push_back(g);
        }
    }
    if (keep_special) {
        for (const llvm::GlobalVariable &g : program.globals()) {
            if (g.getName().starts_with("llvm.") && !g.isDeclaration()) {
                defs.push_back(&g);
            }
        }
    }

    // First every definition's global (what the others may refer to), then their contents.
    llvm::ValueToValueMapTy map;
    DeclareOnUse declare(*shard);
    for (const llvm::GlobalValue *g : defs) {
        llvm::GlobalValue *copy = nullptr;
        if (auto *f = llvm::dyn_cast<llvm::Function>(g)) {
            llvm::Function *nf = llvm::Function::Create(f->getFunctionType(), f->getLinkage(),
                                                        f->getAddressSpace(), f->getName(),
                                                        shard.get());
            nf->copyAttributesFrom(f);
            copy = nf;
        } else if (auto *gv = llvm::dyn_cast<llvm::GlobalVariable>(g)) {
            auto *ngv = new llvm::GlobalVariable(
                *shard, gv->getValueType(), gv->isConstant(), gv->getLinkage(), nullptr,
                gv->getName(), nullptr, gv->getThreadLocalMode(),
                gv->getType()->getAddressSpace());
            ngv->copyAttributesFrom(gv);
            copy = ngv;
        } else if (auto *ga = llvm::dyn_cast<llvm::GlobalAlias>(g)) {
            auto *nga = llvm::GlobalAlias::create(ga->getValueType(),
                                                  ga->getType()->getPointerAddressSpace(),
                                                  ga->getLinkage(), ga->getName(), shard.get());
            nga->copyAttributesFrom(ga);
            copy = nga;
        } else {
            continue;  // ifuncs: declared on use, as what they resolve to
        }
        map[g] = copy;
    }
    for (const llvm::GlobalValue *g : defs) {
        if (auto *f = llvm::dyn_cast<llvm::Function>(g)) {
            auto *nf = llvm::cast<llvm::Function>(map[f]);
            auto arg = nf->arg_begin();
            for (const llvm::Argument &a : f->args()) {
                arg->setName(a.getName());
                map[&a] = &*arg++;
            }
            llvm::SmallVector<llvm::ReturnInst *, 8> returns;
            llvm::CloneFunctionInto(nf, f, map, llvm::CloneFunctionChangeType::ClonedModule,
                                    returns, "", nullptr, nullptr, &declare);
            if (f->hasPersonalityFn()) {
                nf->setPersonalityFn(
                    llvm::MapValue(f->getPersonalityFn(), map, llvm::RF_None, nullptr, &declare));
            }
        } else if (auto *gv = llvm::dyn_cast<llvm::GlobalVariable>(g)) {
            auto *ngv = llvm::cast<llvm::GlobalVariable>(map[gv]);
            llvm::SmallVector<std::pair<unsigned, llvm::MDNode *>, 1> attachments;
            gv->getAllMetadata(attachments);
            for (auto &[kind, node] : attachments) {
                ngv->addMetadata(kind,
                                 *llvm::MapMetadata(node, map, llvm::RF_None, nullptr, &declare));
            }
            if (gv->hasInitializer()) {
                ngv->setInitializer(
                    llvm::MapValue(gv->getInitializer(), map, llvm::RF_None, nullptr, &declare));
            }
        } else if (auto *ga = llvm::dyn_cast<llvm::GlobalAlias>(g)) {
            auto *nga = llvm::cast<llvm::GlobalAlias>(map[ga]);
            nga->setAliasee(
                llvm::MapValue(ga->getAliasee(), map, llvm::RF_None, nullptr, &declare));
        }
    }
    for (const llvm::NamedMDNode &named : program.named_metadata()) {
        llvm::NamedMDNode *copy = shard->getOrInsertNamedMetadata(named.getName());
        for (const llvm::MDNode *operand : named.operands()) {
            copy->addOperand(llvm::MapMetadata(operand, map, llvm::RF_None, nullptr, &declare));
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
