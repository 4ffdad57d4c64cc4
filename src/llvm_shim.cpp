// What aotlink needs from LLVM's C++ API that its C API does not offer: resolving a CPU name
// plus feature changes to the full feature set (MCSubtargetInfo), listing the CPUs and the
// instruction-set features LLVM knows, cloning a function within its module (CloneFunction),
// turning a function into a declaration (deleteBody), putting C constructors in
// .init_array (TargetOptions::UseInitArray), copying one shard's definitions out of the
// program (CloneModule with a predicate), and spelling out the default optimization pipeline
// (PassBuilder, printPipeline) so that it can run in two parts.

#include <llvm/ADT/StringRef.h>
#include <llvm/IR/DiagnosticHandler.h>
#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/GlobalAlias.h>
#include <llvm/IR/GlobalIFunc.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Metadata.h>
#include <llvm/Support/SourceMgr.h>
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

// Whether the global binds within its own object (LLVM's `dso_local`; the C API cannot say).
void aotlink_shim_set_dso_local(LLVMValueRef global, int local) {
    llvm::cast<llvm::GlobalValue>(llvm::unwrap(global))->setDSOLocal(local != 0);
}

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

// Every diagnostic of a context, kept instead of LLVM's default handling, which prints it on
// stderr in LLVM's own form and, for an error, ends the process with exit(1): an inline-asm
// error in one shard (zlib's `crc32b` for a CPU without CRC) killed aotlink, or the runtime
// that had loaded libaotlink, with a half-done build. One record per diagnostic:
// severity ('E' error, 'W' warning), the function it concerns (may be empty), the inline-asm
// location cookie (clang's !srcloc, to find the function when LLVM gives none) and the
// message on one line. Remarks and notes are dropped.
namespace {
struct Diagnostic {
    char severity;
    std::string function;
    uint64_t cookie;
    std::string message;
};

// One line: a message whose source line LLVM quotes (inline assembly) gets it in backquotes.
std::string one_line(const std::string &text) {
    std::string out;
    for (char c : text) {
        out += (c == '\n' || c == '\t') ? ' ' : c;
    }
    return out;
}

class CollectDiagnostics final : public llvm::DiagnosticHandler {
public:
    // The context hands its handler out as const only; taking the records empties them.
    mutable std::vector<Diagnostic> diagnostics;

    bool handleDiagnostics(const llvm::DiagnosticInfo &info) override {
        char severity;
        switch (info.getSeverity()) {
        case llvm::DS_Error:
            severity = 'E';
            break;
        case llvm::DS_Warning:
            severity = 'W';
            break;
        default:
            return true;
        }
        Diagnostic d{severity, "", 0, ""};
        if (auto *srcmgr = llvm::dyn_cast<llvm::DiagnosticInfoSrcMgr>(&info)) {
            // The assembler's diagnostic on a function's inline assembly: "<inline asm>:1:2:
            // message" and the offending line.
            const llvm::SMDiagnostic &sm = srcmgr->getSMDiag();
            d.cookie = srcmgr->getLocCookie();
            d.message = "<inline asm>:" + std::to_string(sm.getLineNo()) + ":" +
                        std::to_string(sm.getColumnNo() + 1) + ": " + sm.getMessage().str();
            llvm::StringRef line = sm.getLineContents().trim();
            if (!line.empty()) {
                d.message += " (`" + line.str() + "`)";
            }
        } else {
            if (auto *asm_ = llvm::dyn_cast<llvm::DiagnosticInfoInlineAsm>(&info)) {
                d.cookie = asm_->getLocCookie();
                if (const llvm::Instruction *i = asm_->getInstruction()) {
                    d.function = i->getFunction()->getName().str();
                }
            } else if (auto *r = llvm::dyn_cast<llvm::DiagnosticInfoResourceLimit>(&info)) {
                d.function = r->getFunction().getName().str();
            } else if (auto *u = llvm::dyn_cast<llvm::DiagnosticInfoUnsupported>(&info)) {
                d.function = u->getFunction().getName().str();
            } else if (auto *g = llvm::dyn_cast<llvm::DiagnosticInfoGenericWithLoc>(&info)) {
                d.function = g->getFunction().getName().str();
            } else if (auto *a = llvm::dyn_cast<llvm::DiagnosticInfoRegAllocFailure>(&info)) {
                d.function = a->getFunction().getName().str();
            } else if (auto *l = llvm::dyn_cast<llvm::DiagnosticInfoLegalizationFailure>(&info)) {
                d.function = l->getFunction().getName().str();
            }
            llvm::raw_string_ostream out(d.message);
            llvm::DiagnosticPrinterRawOStream printer(out);
            info.print(printer);
        }
        d.message = one_line(d.message);
        diagnostics.push_back(std::move(d));
        return true;
    }
};

// The function holding the inline assembly whose !srcloc is `cookie` ("" when none does).
std::string function_of_srcloc(const llvm::Module &module, uint64_t cookie) {
    for (const llvm::Function &f : module) {
        for (const llvm::BasicBlock &block : f) {
            for (const llvm::Instruction &i : block) {
                auto *call = llvm::dyn_cast<llvm::CallBase>(&i);
                const llvm::MDNode *srcloc = call ? call->getMetadata("srcloc") : nullptr;
                if (!srcloc || srcloc->getNumOperands() == 0 || !call->isInlineAsm()) {
                    continue;
                }
                auto *value = llvm::mdconst::dyn_extract<llvm::ConstantInt>(srcloc->getOperand(0));
                if (value && value->getZExtValue() == cookie) {
                    return f.getName().str();
                }
            }
        }
    }
    return "";
}
} // namespace

// Makes `context` keep its diagnostics (above) until aotlink_shim_take_diagnostics.
void aotlink_shim_collect_diagnostics(LLVMContextRef context) {
    llvm::unwrap(context)->setDiagnosticHandler(std::make_unique<CollectDiagnostics>());
}

// The diagnostics `context` kept since the last call (it must have been given to
// aotlink_shim_collect_diagnostics), as lines "S\tFUNCTION\tMESSAGE\n", functions found in
// `module` by their inline assembly's cookie where LLVM named none; NULL when there were none.
// Free with aotlink_shim_free.
char *aotlink_shim_take_diagnostics(LLVMContextRef context, LLVMModuleRef module) {
    auto *handler =
        static_cast<const CollectDiagnostics *>(llvm::unwrap(context)->getDiagHandlerPtr());
    if (handler->diagnostics.empty()) {
        return nullptr;
    }
    std::string text;
    for (Diagnostic &d : handler->diagnostics) {
        if (d.function.empty() && d.cookie != 0) {
            d.function = function_of_srcloc(*llvm::unwrap(module), d.cookie);
        }
        text += d.severity;
        text += '\t' + d.function + '\t' + d.message + '\n';
    }
    handler->diagnostics.clear();
    return strdup(text.c_str());
}

// Removes the module flag `key` from `m`'s flags, if it has it (LLVM offers adding one only).
void aotlink_shim_drop_module_flag(LLVMModuleRef m, const char *key) {
    llvm::NamedMDNode *flags = llvm::unwrap(m)->getModuleFlagsMetadata();
    if (!flags) {
        return;
    }
    std::vector<llvm::MDNode *> kept;
    for (llvm::MDNode *flag : flags->operands()) {
        auto *name = flag->getNumOperands() >= 2
                         ? llvm::dyn_cast<llvm::MDString>(flag->getOperand(1))
                         : nullptr;
        if (!name || name->getString() != key) {
            kept.push_back(flag);
        }
    }
    flags->clearOperands();
    for (llvm::MDNode *flag : kept) {
        flags->addOperand(flag);
    }
}

// Drops the names of every function's arguments, blocks and instructions (globals keep
// theirs): they change neither the code nor what the module means, and a named value costs a
// symbol-table entry in memory, in bitcode and in every print.
void aotlink_shim_drop_local_names(LLVMModuleRef m) {
    for (llvm::Function &f : *llvm::unwrap(m)) {
        for (llvm::Argument &a : f.args()) {
            if (a.hasName()) {
                a.setName("");
            }
        }
        for (llvm::BasicBlock &bb : f) {
            if (bb.hasName()) {
                bb.setName("");
            }
            for (llvm::Instruction &i : bb) {
                if (i.hasName()) {
                    i.setName("");
                }
            }
        }
    }
}

// The context-wide tables of names that every module's bitcode carries whole, whatever the
// module uses of them: metadata kinds, operand bundle tags and sync scopes, one per line,
// each table after a "#" line. Free with aotlink_shim_free.
char *aotlink_shim_context_names(LLVMContextRef context) {
    const llvm::LLVMContext &c = *llvm::unwrap(context);
    llvm::SmallVector<llvm::StringRef, 64> names;
    std::string text = "#kinds\n";
    c.getMDKindNames(names);
    for (llvm::StringRef n : names) {
        text += n.str() + '\n';
    }
    names.clear();
    text += "#bundles\n";
    c.getOperandBundleTags(names);
    for (llvm::StringRef n : names) {
        text += n.str() + '\n';
    }
    names.clear();
    text += "#scopes\n";
    c.getSyncScopeNames(names);
    for (llvm::StringRef n : names) {
        text += n.str() + '\n';
    }
    return strdup(text.c_str());
}

// The global values `g` refers to (see Global::references in analysis.rs, which documents
// the walk), each once, in the order met: written to `out` up to `capacity`; returns how many
// there are (call again with room for all when that is more). One native walk instead of a C
// API call per operand: at 50,000 functions the walks over every body were 0.2 s of an edit.
size_t aotlink_shim_references(LLVMValueRef g, LLVMValueRef *out, size_t capacity) {
    std::vector<const llvm::Value *> found;
    llvm::SmallPtrSet<const llvm::Value *, 32> seen;
    std::vector<const llvm::Value *> stack;
    // Constants without operands (numbers, strings, null) never lead to a global, nor do
    // instructions, arguments, blocks or metadata.
    auto visit = [&](const llvm::Value *root) {
        stack.push_back(root);
        while (!stack.empty()) {
            const llvm::Value *v = stack.back();
            stack.pop_back();
            if (v == nullptr || !llvm::isa<llvm::Constant>(v)) {
                continue;
            }
            bool global = llvm::isa<llvm::GlobalValue>(v);
            bool block = llvm::isa<llvm::BlockAddress>(v);
            if (!(global || block || llvm::cast<llvm::User>(v)->getNumOperands() > 0) ||
                !seen.insert(v).second) {
                continue;
            }
            if (global) {
                found.push_back(v);
            } else if (block) {
                stack.push_back(llvm::cast<llvm::BlockAddress>(v)->getFunction());
            } else {
                // Reversed on the stack: operands are met in order, as a recursion would.
                const llvm::User *u = llvm::cast<llvm::User>(v);
                for (unsigned i = u->getNumOperands(); i-- > 0;) {
                    stack.push_back(u->getOperand(i));
                }
            }
        }
    };
    llvm::Value *value = llvm::unwrap(g);
    if (auto *f = llvm::dyn_cast<llvm::Function>(value)) {
        if (f->hasPersonalityFn()) {
            visit(f->getPersonalityFn());
        }
        for (const llvm::BasicBlock &bb : *f) {
            for (const llvm::Instruction &i : bb) {
                for (const llvm::Use &op : i.operands()) {
                    visit(op.get());
                }
            }
        }
    } else if (auto *v = llvm::dyn_cast<llvm::GlobalVariable>(value)) {
        if (v->hasInitializer()) {
            visit(v->getInitializer());
        }
    } else if (auto *a = llvm::dyn_cast<llvm::GlobalAlias>(value)) {
        visit(a->getAliasee());
    } else if (auto *i = llvm::dyn_cast<llvm::GlobalIFunc>(value)) {
        visit(i->getResolver());
    }
    for (size_t k = 0; k < found.size() && k < capacity; k++) {
        out[k] = llvm::wrap(found[k]);
    }
    return found.size();
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
        // A weak reference to what no input defines (`extern_weak`) stays weak: the symbol
        // may be missing at load time and then reads as null, which the code may test for.
        // Made a plain declaration, the optimizer folds that test to "present" and the
        // dynamic loader refuses the image for the undefined symbol.
        decl->setLinkage(g->hasExternalWeakLinkage() ? llvm::GlobalValue::ExternalWeakLinkage
                                                     : llvm::GlobalValue::ExternalLinkage);
        return decl;
    }

private:
    llvm::Module &shard_;
};

// A new module (in the same context) holding the definitions of `m` named in `names` (in
// that order) and a declaration of each global they reference, nothing else. LLVM's own
// globals (`llvm.used`, `llvm.global_ctors`) and the module's assembly come along only when
// `keep_special`. What the
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
    // Module-level assembly (C's top-level `asm`, Rust's `global_asm!`) may define symbols:
    // one shard carries it, the one with LLVM's own globals, or every shard's object defined
    // them and the link failed on duplicate symbols.
    if (keep_special) {
        shard->setModuleInlineAsm(program.getModuleInlineAsm());
    }

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
        } else if (auto *gi = llvm::dyn_cast<llvm::GlobalIFunc>(g)) {
            auto *ngi = llvm::GlobalIFunc::create(gi->getValueType(), gi->getAddressSpace(),
                                                  gi->getLinkage(), gi->getName(), nullptr,
                                                  shard.get());
            ngi->copyAttributesFrom(gi);
            copy = ngi;
        } else {
            continue;
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
        } else if (auto *gi = llvm::dyn_cast<llvm::GlobalIFunc>(g)) {
            // The resolver is in the same shard (partition.rs ties them).
            auto *ngi = llvm::cast<llvm::GlobalIFunc>(map[gi]);
            ngi->setResolver(
                llvm::MapValue(gi->getResolver(), map, llvm::RF_None, nullptr, &declare));
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
