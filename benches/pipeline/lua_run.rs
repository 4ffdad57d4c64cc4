//! Section `lua_run`: what calls through dispatch thunks cost in real, call-heavy code. Lua 5.4
//! (the vs_clang section's bitcode) built three ways runs the same script in this process:
//! aotlink's default CPU targets (the loader's choice, and the same image forced to `generic`,
//! whose base code then runs behind every thunk), aotlink with `--cpu-target generic` only (no
//! thunks), and `clang-22 -O2 -shared`. The variants take turns in each of the paired runs;
//! each figure is the median, and each ratio is against the generic-only image.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::cpu::{print_other_cpu_use, CpuSample};
use crate::report::Table;
use crate::source::CLANG;
use crate::timing::human;
use crate::vs_clang::lua_bitcode;

const AOTLINK: &str = env!("CARGO_BIN_EXE_aotlink");
const SCRIPT: &str = include_str!("lua_run.lua");
/// The Lua C API functions [`Lua`] holds.
const LUA_API: [&str; 7] = [
    "luaL_newstate",
    "luaL_openlibs",
    "luaL_loadstring",
    "lua_pcallk",
    "lua_getglobal",
    "lua_tolstring",
    "lua_close",
];
/// Paired runs: every variant runs once per round. 31 rounds of a 0.1 s script: the machine's
/// speed drifts by more than the differences measured, so the speed is the median of the
/// per-round ratios (each against the generic-only image of the same round), and 7 rounds
/// left those within about 4% of each other. The order rotates from round to round.
const ROUNDS: usize = 31;

type NewState = unsafe extern "C" fn() -> *mut c_void;
type OpenLibs = unsafe extern "C" fn(*mut c_void);
type LoadString = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type PCallK = unsafe extern "C" fn(*mut c_void, c_int, c_int, c_int, isize, *const c_void) -> c_int;
type GetGlobal = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type ToLString = unsafe extern "C" fn(*mut c_void, c_int, *mut usize) -> *const c_char;
type Close = unsafe extern "C" fn(*mut c_void);

/// The Lua C API functions the script needs, from one build of the library.
struct Lua {
    label: String,
    new_state: NewState,
    open_libs: OpenLibs,
    load_string: LoadString,
    pcallk: PCallK,
    get_global: GetGlobal,
    to_lstring: ToLString,
    close: Close,
    /// Keeps the code mapped.
    _owner: Box<dyn std::any::Any>,
}

impl Lua {
    fn from_lookup(
        label: String,
        owner: Box<dyn std::any::Any>,
        lookup: impl Fn(&str) -> Option<*const c_void>,
    ) -> Result<Lua> {
        let f = |name: &str| lookup(name).with_context(|| format!("{label}: no {name}"));
        // SAFETY: each pointer is the named Lua 5.4 API function, whose C type is the alias.
        unsafe {
            Ok(Lua {
                new_state: std::mem::transmute::<*const c_void, NewState>(f("luaL_newstate")?),
                open_libs: std::mem::transmute::<*const c_void, OpenLibs>(f("luaL_openlibs")?),
                load_string: std::mem::transmute::<*const c_void, LoadString>(f(
                    "luaL_loadstring",
                )?),
                pcallk: std::mem::transmute::<*const c_void, PCallK>(f("lua_pcallk")?),
                get_global: std::mem::transmute::<*const c_void, GetGlobal>(f("lua_getglobal")?),
                to_lstring: std::mem::transmute::<*const c_void, ToLString>(f("lua_tolstring")?),
                close: std::mem::transmute::<*const c_void, Close>(f("lua_close")?),
                label,
                _owner: owner,
            })
        }
    }

    /// Runs the script once; its time and the RESULT it left.
    fn run(&self, script: &CStr) -> Result<(Duration, String)> {
        // SAFETY: the Lua C API used as documented, on a state created and closed here.
        unsafe {
            let start = Instant::now();
            let state = (self.new_state)();
            (self.open_libs)(state);
            let ok = (self.load_string)(state, script.as_ptr()) == 0
                && (self.pcallk)(state, 0, 0, 0, 0, std::ptr::null()) == 0;
            let elapsed = start.elapsed();
            if !ok {
                let message = CStr::from_ptr((self.to_lstring)(state, -1, std::ptr::null_mut()));
                let message = message.to_string_lossy().into_owned();
                (self.close)(state);
                bail!("{}: the script failed: {message}", self.label);
            }
            (self.get_global)(state, c"RESULT".as_ptr());
            let result = (self.to_lstring)(state, -1, std::ptr::null_mut());
            let result = if result.is_null() {
                String::new()
            } else {
                CStr::from_ptr(result).to_string_lossy().into_owned()
            };
            (self.close)(state);
            Ok((elapsed, result))
        }
    }
}

fn open_image(path: &Path, target: Option<&str>, label: &str) -> Result<Lua> {
    let options = aotload::LoadOptions {
        target: target.map(str::to_string),
        ..Default::default()
    };
    let image = aotload::Image::open(path, &options)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let label = format!("{label} (runs {})", image.target_name());
    let lookups: Vec<(String, Option<*const c_void>)> = LUA_API
        .iter()
        .map(|n| (n.to_string(), image.lookup(n)))
        .collect();
    Lua::from_lookup(label, Box::new(image), |name| {
        lookups
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, p)| *p)
    })
}

fn open_library(path: &Path, label: &str) -> Result<Lua> {
    // SAFETY: clang's build of Lua; its initializers are Lua's own.
    let library = unsafe { libloading::Library::new(path) }
        .with_context(|| format!("cannot load {}", path.display()))?;
    let pointers: Vec<(String, Option<*const c_void>)> = LUA_API
        .iter()
        .map(|n| {
            // SAFETY: looking a symbol up; the pointer is used with its C type only.
            let p = unsafe { library.get::<*const c_void>(n.as_bytes()) }
                .ok()
                .map(|s| *s);
            (n.to_string(), p)
        })
        .collect();
    Lua::from_lookup(label.to_string(), Box::new(library), |name| {
        pointers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, p)| *p)
    })
}

fn aotlink_build(bitcode: &[PathBuf], cpu_target: Option<&str>, out: &Path) -> Result<()> {
    let mut cmd = Command::new(AOTLINK);
    cmd.arg("build")
        .args(bitcode)
        .args(["--export-all", "-o"])
        .arg(out);
    cmd.env_remove("AOTLINK_CPU_TARGET");
    if let Some(t) = cpu_target {
        cmd.args(["--cpu-target", t]);
    }
    let status = cmd.status().context("cannot run aotlink")?;
    if !status.success() {
        bail!("aotlink build of Lua failed");
    }
    Ok(())
}

pub fn bench_lua_run(dir: &Path, table: &mut Table) -> Result<()> {
    println!("\n[lua_run] a call-heavy Lua script, {ROUNDS} paired runs (median)");
    let dir = dir.join("lua_run");
    std::fs::create_dir_all(&dir)?;
    let bitcode = lua_bitcode(Path::new(CLANG), &dir.join("bc"))?;
    let default_image = dir.join("lua-default.so");
    let generic_image = dir.join("lua-generic.so");
    aotlink_build(&bitcode, None, &default_image)?;
    aotlink_build(&bitcode, Some("generic"), &generic_image)?;
    let clang_lib = dir.join("lua-clang.so");
    let status = Command::new(CLANG)
        .args(["-O2", "-shared", "-fPIC", "-Wl,-Bsymbolic", "-o"])
        .arg(&clang_lib)
        .args(&bitcode)
        .status()
        .context("cannot run clang")?;
    if !status.success() {
        bail!("{CLANG} could not link Lua");
    }

    // Sampled after the builds: the subprocesses would count as other processes.
    let start = Instant::now();
    let cpu = CpuSample::now();
    let mut variants = vec![
        open_image(&generic_image, None, "aotlink, --cpu-target generic")?,
        open_image(&default_image, None, "aotlink, default CPU targets")?,
    ];
    // The default image once more per target this host runs, each open its own copy of the
    // file so that each has its own dispatch slots.
    let host = aotload::HostCpu::detect();
    let meta = aotload::ImageFile::parse(&std::fs::read(&default_image)?)?.meta;
    for target in &meta.targets {
        let runs = aotload::features::missing(&target.features, &host.features)
            .iter()
            .all(|w| *w == 0);
        if runs {
            let copy = dir.join(format!("lua-default-{}.so", target.name));
            std::fs::copy(&default_image, &copy)?;
            variants.push(open_image(
                &copy,
                Some(&target.name),
                "aotlink, default CPU targets, forced",
            )?);
        }
    }
    variants.push(open_library(&clang_lib, &format!("{CLANG} -O2 -shared"))?);
    let script = CString::new(SCRIPT).expect("the script has no NUL");
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    let mut expected: Option<String> = None;
    for round in 0..ROUNDS {
        // Each round starts with another variant: no variant always runs right after another.
        let n = variants.len();
        for i in (0..n).map(|k| (k + round) % n) {
            let lua = &variants[i];
            let (elapsed, result) = lua.run(&script)?;
            match &expected {
                None => expected = Some(result),
                Some(e) if *e != result => {
                    bail!("{} printed `{result}`, the others `{e}`", lua.label)
                }
                _ => {}
            }
            times[i].push(elapsed);
        }
    }
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    // Per round, generic-only time over this variant's: drift between rounds cancels.
    let speeds: Vec<f64> = (times.iter())
        .map(|t| {
            let mut ratios: Vec<f64> = (times[0].iter().zip(t))
                .map(|(g, v)| g.as_secs_f64() / v.as_secs_f64())
                .collect();
            ratios.sort_by(f64::total_cmp);
            ratios[ratios.len() / 2]
        })
        .collect();
    let medians: Vec<Duration> = times.iter_mut().map(median).collect();
    // The fastest run of each: what the code costs with the least interference.
    let fastest: Vec<Duration> = times.iter().map(|t| *t.iter().min().unwrap()).collect();
    let mut md = String::from(
        "Lua run time, a call-heavy script (benches/pipeline/lua_run.lua):\n\n| Lua built by | Runs | Script time (median) | Speed vs generic-only image (median of paired ratios) | Fastest run | Speed (fastest runs) |\n|---|---|---:|---:|---:|---:|\n",
    );
    for (((lua, m), &speed), fast) in variants.iter().zip(&medians).zip(&speeds).zip(&fastest) {
        let fast_speed = fastest[0].as_secs_f64() / fast.as_secs_f64();
        println!(
            "  {:<58}: {}, {speed:.3}x the generic-only image's speed; fastest {} ({fast_speed:.3}x)",
            lua.label,
            human(*m),
            human(*fast)
        );
        let (who, runs) = lua
            .label
            .split_once(" (runs ")
            .unwrap_or((&lua.label, "-)"));
        let _ = writeln!(
            md,
            "| {who} | {} | {} | {speed:.3} | {} | {fast_speed:.3} |",
            runs.trim_end_matches(')'),
            human(*m),
            human(*fast)
        );
    }
    println!(
        "  result (identical for all): {}",
        expected.unwrap_or_default()
    );
    let _ = writeln!(
        md,
        "\nSpeed = generic-only image time / this time in the same round (above 1 is faster), the median over {ROUNDS} rounds, the variants taking turns; script time: median per variant."
    );
    if let Some(share) = print_other_cpu_use(cpu, start.elapsed()) {
        let _ = writeln!(
            md,
            "Other processes' CPU use during this section: {share:.0}%."
        );
    }
    table.sections.push(md);
    Ok(())
}
