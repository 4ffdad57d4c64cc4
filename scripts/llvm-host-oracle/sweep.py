#!/usr/bin/env python3
"""Asks LLVM's host detection (oracle.cpp) to name every x86 vendor/family/model and every
aarch64 implementer/part, and writes x86_names.tsv and arm_names.tsv into OUT_DIR (default:
this directory's out/). The ignored test loader/tests/llvm_host_oracle.rs compares them with
the loader's tables:

    scripts/llvm-host-oracle/sweep.py && \\
      AOTLOAD_LLVM_HOST_ORACLE=scripts/llvm-host-oracle/out \\
      cargo test -p aotload --test llvm_host_oracle -- --ignored
"""
import os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
LLVM = os.environ.get("LLVM_PREFIX", "/usr/lib/llvm-22")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "out")
os.makedirs(OUT, exist_ok=True)
oracle = os.path.join(OUT, "oracle")
subprocess.run([f"{LLVM}/bin/clang++", "-O1", "-std=c++17", f"-I{LLVM}/include",
                os.path.join(HERE, "oracle.cpp"), f"-L{LLVM}/lib", "-lLLVM",
                f"-Wl,-rpath,{LLVM}/lib", "-o", oracle], check=True)

def ask(mode, blocks, sep):
    out = subprocess.run([oracle, mode], input=sep.join(blocks), capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert len(out) == len(blocks), (len(out), len(blocks))
    return out

# cpuid vendor strings as (ebx, ecx, edx) of leaf 0, in the oracle's eax ebx ecx edx order.
VENDORS = {"intel": "0 0 20 756e6547 6c65746e 49656e69",
           "amd": "0 0 20 68747541 444d4163 69746e65"}

def leaf1_eax(family, model):
    if family < 0xf:
        return (family << 8) | ((model & 0xf) << 4) | ((model >> 4) << 16)
    return (0xf << 8) | ((family - 0xf) << 20) | ((model & 0xf) << 4) | ((model >> 4) << 16)

keys = [(v, f, m) for v in VENDORS for f in range(3, 0x21) for m in range(0x100)]
blocks = [f"{VENDORS[v]}\n1 0 {leaf1_eax(f, m):x} 0 0 0\n" for v, f, m in keys]
with open(os.path.join(OUT, "x86_names.tsv"), "w") as w:
    for (v, f, m), line in zip(keys, ask("x86", blocks, "---\n")):
        w.write(f"{v}\t{f:#x}\t{m:#x}\t{line.split('|')[0]}\n")

parts = [(f"0x{i:02x}", f"0x{p:03x}") for i in range(256) for p in range(4096)]
# Host.cpp also matches some parts written with two or four digits.
for i in ["0x42", "0x43", "0x46", "0x4e", "0x51", "0x61", "0xc0"]:
    parts += [(i, f"0x{p:02x}") for p in range(256)]
    parts += [(i, f"0x{p:04x}") for p in range(0x400, 0x600)]
blocks = [f"CPU implementer\t: {i}\nCPU part\t: {p}\n" for i, p in parts]
with open(os.path.join(OUT, "arm_names.tsv"), "w") as w:
    for (i, p), name in zip(parts, ask("arm", blocks, "\n---\n")):
        w.write(f"{i}\t{p}\t{name}\n")
print(f"wrote {OUT}/x86_names.tsv and {OUT}/arm_names.tsv")
