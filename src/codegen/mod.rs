//! codegen: load and merge the IR, keep what the trace reaches, index functions and globals,
//! and make every kept symbol nameable across shards.

mod error;
mod externals;
mod fatal_guard;
pub mod function_texts;
mod index;
pub mod isolated;
mod load;
mod local_numbers;
pub mod printed;
mod producer;
mod text_order;
mod trace;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use aotload::meta::{Method, SymbolExport};
use inkwell::context::Context;
use inkwell::module::Module;

use crate::llvm::{self, Global, Linkage, Visibility};
use crate::phase::{PhaseClock, PhaseName};
pub use error::CodegenError;
pub(crate) use index::printed_name;
pub use load::{input_defining, is_bitcode, one_line, Input, InputBytes};
#[doc(hidden)]
pub use local_numbers::{renumbering_keeps_the_module, without_local_names};
pub use printed::PrintedModule;

#[derive(Clone, Debug, Default)]
pub struct CodegenOptions {
    pub inputs: Vec<Input>,
    /// Functions a runtime recorded as compiled; `None` keeps every definition.
    pub trace: Option<PathBuf>,
    /// Functions, variables, aliases and ifuncs to export as symbols.
    pub exports: Vec<String>,
    /// Also export every kept definition that had external linkage and default (or protected)
    /// visibility in the inputs: what `gcc -shared` exports.
    pub export_all: bool,
    /// Method tables of the images this one will be loaded with: the functions the inputs
    /// declare and a table provides become external methods.
    pub method_tables: Vec<PathBuf>,
    /// The inputs were parsed and verified already, byte for byte, by this LLVM (the
    /// child-process check): verifying them again would take as long again.
    pub inputs_verified: bool,
    /// Record what each function refers to as parsed ([`Program::references`]), for a later
    /// rebuild that parses only the functions that changed (`build/rebuild.rs`).
    pub record_references: bool,
}

/// The selected, indexed module, ready for dump.
pub struct Program<'ctx> {
    pub module: Module<'ctx>,
    pub triple: String,
    /// fvar index -> function name.
    pub fvars: Vec<String>,
    /// gvar index -> the global's name and the function addresses it holds (the metadata's
    /// record).
    pub gvars: Vec<aotload::meta::Gvar>,
    /// Exported functions (methods under their own names), sorted.
    pub exports: Vec<String>,
    /// The other exported symbols (variables, aliases, ifuncs), sorted by name.
    pub symbol_exports: Vec<SymbolExport>,
    /// Exported variables a program linked against the image may interpose (ELF copy
    /// relocations): the shard tables point at their [`own_name`] instead.
    pub interposable: Vec<String>,
    /// Manifest entry per fvar.
    pub methods: Vec<Method>,
    /// Methods of other images this one calls (see `externals.rs`).
    pub externals: Vec<aotload::meta::ExternalEdge>,
    /// The code registers handlers that belong to the image: destructors of static objects
    /// with `__cxa_atexit` (C++), exit or fork handlers with `atexit`, `at_quick_exit` or
    /// `pthread_atfork` (C). The image must run or drop them when it is unloaded.
    pub static_destructors: bool,
    /// The module as printed before the external methods were bound, in pieces: what the
    /// shards' cache keys are made of (dump/text_key.rs). Dump takes it once it made them.
    pub printed: Option<PrintedModule>,
    /// Where codegen's time went, in order (`parse`, `select`, `index`, `print`).
    pub phases: Vec<(PhaseName, Duration)>,
    /// With [`CodegenOptions::record_references`]: each defined function of the inputs as
    /// parsed, before selection, with the globals it refers to that selection follows
    /// (printed names, `@f`; LLVM's intrinsics left out), in module order.
    pub references: Option<Vec<(String, Vec<String>)>>,
}

/// The C library's functions that register a handler for the calling object (its
/// `__dso_handle`); see [`Program::static_destructors`].
const REGISTRATIONS: [&str; 4] = ["__cxa_atexit", "atexit", "at_quick_exit", "pthread_atfork"];

/// Names the image defines itself; inputs may declare but not define them.
const RESERVED_PREFIX: &str = "aotlink_";

pub fn codegen<'ctx>(
    context: &'ctx Context,
    options: &CodegenOptions,
) -> Result<Program<'ctx>, CodegenError> {
    fatal_guard::install_fatal_error_handler();
    let mut clock = PhaseClock::default();
    let mut module = load::load_inputs(context, &options.inputs, !options.inputs_verified)?;
    // Every module codegen sees is without local names, however it was read (text, bitcode,
    // checked in a child or not): the same input gives the same print, hashes and image.
    llvm::drop_local_names(&module);
    let references = options
        .record_references
        .then(|| function_references(&module, options.trace.is_some()));
    clock.lap(PhaseName::Parse);
    let first_input = options.inputs[0].name().to_path_buf();
    let globals = llvm::globals(&module);
    as_shared_object(&module, &globals);
    if let Some(g) = globals
        .iter()
        .find(|g| !g.is_declaration() && g.name().starts_with(RESERVED_PREFIX))
    {
        return Err(CodegenError::Input {
            path: first_input.clone(),
            cause: format!(
                "defines `{}`: names starting with `{RESERVED_PREFIX}` belong to the image",
                g.name()
            ),
        });
    }
    // Constructors of one priority run in the inputs' order, whatever GlobalOpt evaluates.
    let globals = if llvm::call_constructors_in_order(&module) {
        llvm::globals(&module)
    } else {
        globals
    };
    // Copies of functions defined elsewhere: the real definition is not part of this image.
    for g in globals
        .iter()
        .filter(|g| g.linkage() == Linkage::AvailableExternally)
    {
        g.drop_definition();
    }
    // Names are looked up in the module's own symbol table: a map of every global's name
    // copied out would cost 50,000 allocations at scale, for the few names a trace or
    // `--export` gives.
    let by_name = |name: &str| llvm::named_global(&module, name).filter(|_| !name.is_empty());
    let os = crate::target::Triple::parse(&llvm::triple(&module)).map(|t| t.os);
    let (dll, elf) = (
        os == Ok(crate::target::Os::Windows),
        os == Ok(crate::target::Os::Linux),
    );
    let mut exports = export_names(options, &by_name, dll)?;
    let mut roots: Vec<Global> = match &options.trace {
        Some(path) => trace::trace_roots(path, &trace::read_trace(path)?, &by_name)?,
        // Without a trace every definition other code can reach is kept. Local ones count
        // only through what reaches them: an unreferenced `static` (clang leaves them in IR
        // made without optimization) is dead, and GlobalDCE removes it whatever we keep.
        None => globals
            .iter()
            .copied()
            .filter(|g| !g.is_declaration() && !g.is_local())
            .collect(),
    };
    roots.extend(exports.iter().filter_map(|n| by_name(n)));
    // Constructors, llvm.used and the like are roots whatever the trace says.
    roots.extend(
        globals
            .iter()
            .copied()
            .filter(|g| g.is_llvm_special() && !g.is_declaration()),
    );
    let keep = trace::reachable(&roots);
    if options.export_all {
        // What a shared library of the inputs would export: not what the source hid
        // (`visibility("hidden")`, `-fvisibility=hidden`), the helpers one library's files
        // share, which two images holding one would each export and clash on in a method
        // table.
        exports.extend(
            keep.iter()
                .filter(|g| !g.is_declaration() && !g.is_local() && !g.is_llvm_special())
                .filter(|g| g.visibility() != Visibility::Hidden)
                .filter(|g| !(dll && thread_local_data(**g)))
                .map(|g| g.name()),
        );
    }
    // GlobalDCE deletes only what may go when unused (local and linkonce definitions): of
    // the kept ones, those must still be there after it.
    let at_risk: BTreeSet<String> = keep
        .iter()
        .filter(|g| !g.is_declaration() && g.is_discardable_if_unused())
        .map(|g| g.name())
        .filter(|n| !n.is_empty())
        .collect();
    trace::make_unkept_internal(&globals, &keep);
    llvm::run_passes(&mut module, "globaldce", None).map_err(CodegenError::Llvm)?;

    clock.lap(PhaseName::Select);
    let globals = llvm::globals(&module);
    // Kept unnamed definitions have no name to look up; every named one must have survived.
    if let Some(lost) = at_risk
        .iter()
        .find(|n| llvm::named_global(&module, n).is_none_or(|g| g.is_declaration()))
    {
        return Err(CodegenError::Llvm(format!(
            "selection removed `{lost}`, which the trace reaches"
        )));
    }
    index::externalize(&globals, &exports);
    let (fvars, gvars) = index::index(&globals);
    let (exports, symbol_exports) = index::split_exports(&globals, &fvars, &exports);
    let interposable = match elf {
        true => index::make_interposable(&globals, &symbol_exports, own_name),
        false => Vec::new(),
    };
    let externals = externals::find_externals(&globals, &options.method_tables)?;
    clock.lap(PhaseName::Index);
    // Printing one function makes LLVM number the whole module: it is printed once, and cut
    // into pieces for the methods' content hashes and the shards' keys.
    let text = module.print_to_string();
    // What every shard's key covers besides its text: the context's tables of names, and the
    // bindings made after the print (a bound function is a hidden thunk, which changes its
    // declarations in every shard that calls it).
    let mut common = llvm::context_names(&module).into_bytes();
    for (slot, edge) in externals.edges.iter().enumerate() {
        common.extend(format!("external {slot} {}\n", edge.name).bytes());
    }
    // The print is cut into pieces on a thread of its own (text only, no LLVM) while this
    // one walks the module for the methods' edges and binds the external methods.
    let (pieces, methods, gvars) = std::thread::scope(|scope| {
        let text = text.to_bytes();
        let pieces = scope.spawn(|| PrintedModule::parse(text, &common));
        let (methods, gvars) = index::methods(&module, &fvars, &gvars, &externals.index);
        // Binding changes the module after its print: the shards' keys add the bindings.
        externals::bind(&module, &externals);
        let pieces = pieces.join().expect("cutting the print does not panic");
        (pieces, methods, gvars)
    });
    drop(text);
    let mut methods = methods;
    index::hash_methods(&mut methods, &pieces);
    clock.lap(PhaseName::Print);
    Ok(Program {
        phases: clock.done(),
        triple: llvm::triple(&module),
        fvars: fvars.iter().map(|g| g.name()).collect(),
        gvars,
        exports,
        symbol_exports,
        interposable,
        methods,
        externals: externals.edges,
        printed: Some(pieces),
        references,
        static_destructors: REGISTRATIONS
            .iter()
            .any(|name| llvm::named_global(&module, name).is_some()),
        module,
    })
}

/// Every defined function with the references selection follows (see
/// [`Program::references`]). Without a trace every non-local definition is kept whatever
/// refers to it: only references to declarations and to definitions LLVM may delete count.
fn function_references(module: &Module, traced: bool) -> Vec<(String, Vec<String>)> {
    let counts = |g: &Global| traced || g.is_declaration() || g.is_discardable_if_unused();
    (llvm::globals(module).into_iter())
        .filter(|g| g.kind() == llvm::GlobalKind::Function && !g.is_declaration())
        .map(|f| {
            let refs = (f.references().into_iter())
                .filter(counts)
                .map(|g| g.name())
                .filter(|name| !name.starts_with("llvm."))
                .map(|name| printed_name(&name))
                .collect();
            (f.name(), refs)
        })
        .collect()
}

/// The hidden name of an exported variable that binds within the image (see
/// [`Program::interposable`]).
pub fn own_name(variable: &str) -> String {
    format!("{variable}.aotlink.own")
}

/// An image is a shared object, whatever the IR was compiled for: clang compiles for a
/// position-independent executable by default (`PIE Level`), under which LLVM addresses
/// thread-locals at fixed offsets from the thread pointer (local-exec), which a library
/// loaded at run time cannot use (LLD refuses the relocations).
fn as_shared_object(module: &Module, globals: &[Global]) {
    llvm::drop_module_flag(module, "PIE Level");
    for g in globals {
        g.allow_shared_object_tls();
    }
}

/// The `--export` names, each checked to be a function, variable, alias or ifunc the inputs
/// define (for a DLL, not a thread-local variable).
fn export_names<'m>(
    options: &CodegenOptions,
    by_name: &dyn Fn(&str) -> Option<Global<'m>>,
    dll: bool,
) -> Result<BTreeSet<String>, CodegenError> {
    let mut exports = BTreeSet::new();
    for name in &options.exports {
        let fail = |cause: &str| CodegenError::Export {
            name: name.clone(),
            cause: cause.to_string(),
        };
        match by_name(name) {
            None => return Err(fail("no such function, variable or alias in the inputs")),
            Some(g) if g.is_llvm_special() => return Err(fail("is one of LLVM's own globals")),
            Some(g) if g.is_declaration() => {
                return Err(fail("is declared but not defined in the inputs"))
            }
            // A DLL's export names an address, and a thread-local variable has one per thread
            // (clang refuses `dllexport` on one too).
            Some(g) if dll && thread_local_data(g) => {
                return Err(fail("is thread-local: a DLL cannot export it"))
            }
            Some(_) => exports.insert(name.clone()),
        };
    }
    Ok(exports)
}

/// A thread-local variable, or an alias of one.
fn thread_local_data(g: Global) -> bool {
    g.is_thread_local() || g.aliased_object().is_some_and(|a| a.is_thread_local())
}
