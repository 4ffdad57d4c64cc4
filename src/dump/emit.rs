//! Emitting shards on T threads. Each thread owns an LLVM context and target machine; a shard
//! reaches it as the whole program's bitcode, from which the thread keeps only the shard's
//! definitions (the rest become declarations), adds the shard table, optimizes and emits.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use aotload::format::{encode_shard_table, shard_table_symbol, ShardSpec};
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use inkwell::targets::{CodeModel, FileType, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;
use llvm_sys::LLVMVisibility;

use super::annotate::CloneSets;
use super::multiversion::{base_name, clone_name, multiversion, slot_name, Versions};
use super::partition::ShardPlan;
use super::tables::{add_blob_global, named_global};
use crate::ir::{self, GlobalKind};
use crate::target::{CpuTarget, ResolvedTarget};

/// Which outputs to produce, like Julia's `--output-o/--output-bc/--output-asm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmitKinds {
    pub obj: bool,
    pub bc: bool,
    pub asm: bool,
}

impl Default for EmitKinds {
    fn default() -> Self {
        EmitKinds {
            obj: true,
            bc: false,
            asm: false,
        }
    }
}

/// The files one module (a shard or the header) became.
#[derive(Clone, Debug, Default)]
pub struct Emitted {
    pub object: Option<Vec<u8>>,
    pub bitcode: Option<Vec<u8>>,
    pub assembly: Option<Vec<u8>>,
}

/// One kind of output, and the file ending its archive members get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Object,
    Bitcode,
    Assembly,
}

impl OutputKind {
    pub const ALL: [OutputKind; 3] = [
        OutputKind::Object,
        OutputKind::Bitcode,
        OutputKind::Assembly,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            OutputKind::Object => "o",
            OutputKind::Bitcode => "bc",
            OutputKind::Assembly => "s",
        }
    }
}

impl Emitted {
    pub fn get(&self, kind: OutputKind) -> Option<&[u8]> {
        match kind {
            OutputKind::Object => self.object.as_deref(),
            OutputKind::Bitcode => self.bitcode.as_deref(),
            OutputKind::Assembly => self.assembly.as_deref(),
        }
    }
}

/// What every shard needs to know besides its plan.
pub struct EmitConfig<'a> {
    pub triple: &'a str,
    pub targets: &'a [ResolvedTarget],
    /// Which functions get versions for which targets (whole program).
    pub clone_sets: &'a CloneSets,
    pub kinds: EmitKinds,
    pub fvar_index: &'a HashMap<String, u32>,
    pub gvar_index: &'a HashMap<String, u32>,
}

/// Registers the LLVM targets aotlink emits for; safe to call from anywhere, any number of times.
pub fn init_llvm_targets() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let config = inkwell::targets::InitializationConfig::default();
        Target::initialize_x86(&config);
        Target::initialize_aarch64(&config);
    });
}

/// A target machine for `triple` and `cpu`, for position-independent code.
pub fn target_machine(triple: &str, cpu: &CpuTarget) -> Result<TargetMachine, String> {
    let triple = TargetTriple::create(triple);
    let target = Target::from_triple(&triple).map_err(|e| e.to_string())?;
    let machine = target
        .create_target_machine(
            &triple,
            &cpu.cpu,
            &cpu.llvm_features(),
            OptimizationLevel::Default,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| {
            format!(
                "LLVM cannot make a target machine for {} / {}",
                triple, cpu.cpu
            )
        })?;
    // ELF constructors in .init_array (what the dynamic loader runs), not .ctors.
    // SAFETY: the pointer is the live target machine just made.
    unsafe { aotlink_shim_use_init_array(machine.as_mut_ptr()) };
    Ok(machine)
}

extern "C" {
    fn aotlink_shim_use_init_array(machine: llvm_sys::target_machine::LLVMTargetMachineRef);
}

/// Writes the requested outputs of `module`. Bitcode first (it is the optimized IR); the
/// assembly comes from a copy, because emitting code changes the module it runs on.
pub fn emit_module(
    module: &Module,
    machine: &TargetMachine,
    kinds: EmitKinds,
) -> Result<Emitted, String> {
    let bitcode = kinds
        .bc
        .then(|| module.write_bitcode_to_memory().as_slice().to_vec());
    let for_asm = kinds.asm.then(|| module.clone());
    let object = match kinds.obj {
        true => Some(
            machine
                .write_to_memory_buffer(module, FileType::Object)
                .map_err(|e| e.to_string())?
                .as_slice()
                .to_vec(),
        ),
        false => None,
    };
    let assembly = match for_asm {
        Some(m) => Some(
            machine
                .write_to_memory_buffer(&m, FileType::Assembly)
                .map_err(|e| e.to_string())?
                .as_slice()
                .to_vec(),
        ),
        None => None,
    };
    Ok(Emitted {
        object,
        bitcode,
        assembly,
    })
}

/// Emits every shard on `threads` threads; results come back in shard order. `on_done` gets
/// (shards done, shards in all) after each shard, for progress.
pub fn emit_shards(
    program: &[u8],
    plans: &[ShardPlan],
    config: &EmitConfig,
    threads: usize,
    on_done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Emitted>, (u32, String)> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<Emitted, String>>>> = Mutex::new(vec![None; plans.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= plans.len() || failed.load(Ordering::SeqCst) {
                    break;
                }
                let result = build_shard(program, &plans[i], config);
                failed.fetch_or(result.is_err(), Ordering::SeqCst);
                results.lock().expect("no thread panics while holding it")[i] = Some(result);
                on_done(done.fetch_add(1, Ordering::SeqCst) + 1, plans.len());
            });
        }
    });
    let results = results.into_inner().expect("threads joined");
    let mut out = Vec::with_capacity(plans.len());
    for (plan, result) in plans.iter().zip(results) {
        match result {
            Some(Ok(emitted)) => out.push(emitted),
            Some(Err(e)) => return Err((plan.index, e)),
            // Skipped because another shard failed first; that error is reported below.
            None => continue,
        }
    }
    if out.len() != plans.len() {
        return Err((
            u32::MAX,
            "emission stopped after an earlier shard failed".into(),
        ));
    }
    Ok(out)
}

/// One shard, start to finish, in this thread's own context.
fn build_shard(program: &[u8], plan: &ShardPlan, config: &EmitConfig) -> Result<Emitted, String> {
    let context = Context::create();
    let buffer = MemoryBuffer::create_from_memory_range(program, "aotlink.program");
    let module = Module::parse_bitcode_from_buffer(&buffer, &context).map_err(|e| e.to_string())?;
    keep_only_shard(&module, plan)?;
    let versions = multiversion(&module, plan, config.clone_sets, config.targets);
    add_shard_table(&module, plan, config, &versions)?;
    let machine = target_machine(config.triple, &config.targets[0].target)?;
    ir::run_passes(&module, "default<O2>", Some(&machine))?;
    emit_module(&module, &machine, config.kinds)
}

/// Turns every definition that is not the shard's into a declaration. LLVM's own globals
/// (constructors, llvm.used) live in shard 0.
fn keep_only_shard(module: &Module, plan: &ShardPlan) -> Result<(), String> {
    let members: HashSet<&str> = plan.members.iter().map(String::as_str).collect();
    let mut dead_aliases = false;
    for g in ir::globals(module) {
        if g.is_declaration() {
            continue;
        }
        if g.is_llvm_special() {
            if plan.index != 0 {
                unsafe { llvm_sys::core::LLVMDeleteGlobal(g.0) };
            }
            continue;
        }
        if members.contains(g.name().as_str()) {
            continue;
        }
        match g.kind() {
            GlobalKind::Alias => {
                g.replace_alias_with_declaration();
                dead_aliases = true;
            }
            _ => g.drop_definition(),
        }
    }
    if dead_aliases {
        ir::run_passes(module, "globaldce", None)?;
    }
    Ok(())
}

/// The shard's table: its fvars and gvars with their global indices and offsets.
fn add_shard_table(
    module: &Module,
    plan: &ShardPlan,
    config: &EmitConfig,
    versions: &Versions,
) -> Result<(), String> {
    let fvar_names: Vec<(u32, &String)> = (plan.members.iter())
        .filter_map(|n| config.fvar_index.get(n).map(|&i| (i, n)))
        .collect();
    let fvar_symbol = |n: &String| match versions.versioned.contains(n) {
        true => base_name(n),
        false => n.clone(),
    };
    let fvars = fvar_names
        .iter()
        .map(|(i, n)| (*i, fvar_symbol(n)))
        .collect();
    let gvars = (plan.members.iter())
        .filter_map(|n| config.gvar_index.get(n).map(|&i| (i, n.clone())))
        .collect();
    let clones = (1..config.targets.len())
        .map(|t| {
            let has = |n: &str| config.clone_sets.dispatched(n) >> t & 1 == 1;
            (fvar_names.iter().enumerate())
                .filter(|(_, (_, n))| has(n))
                .map(|(pos, (_, n))| (pos as u32, clone_name(n, t)))
                .collect()
        })
        .collect();
    let slots = (fvar_names.iter())
        .filter(|(_, n)| versions.versioned.contains(*n))
        .map(|(i, n)| (*i, slot_name(n)))
        .collect();
    let spec = ShardSpec {
        index: plan.index,
        fvars,
        gvars,
        clones,
        slots,
    };
    let blob = encode_shard_table(&spec, config.targets.len() as u32);
    add_blob_global(
        module,
        &shard_table_symbol(plan.index),
        &blob,
        LLVMVisibility::LLVMHiddenVisibility,
        |r| match r {
            aotload::format::TableRef::Symbol(name) => named_global(module, name),
            _ => None,
        },
    )?;
    Ok(())
}
