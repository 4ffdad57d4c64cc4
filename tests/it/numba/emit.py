"""Compiles a few functions with numba (as `@cfunc`, C ABI), writes the LLVM IR numba made
for them and what numba's own JIT build of the same IR returns on fixed inputs.

usage: emit.py OUT_DIR   ->  OUT_DIR/numba.ll, OUT_DIR/expected.json

Run with NUMBA_CPU_NAME=generic so the IR does not depend on this machine's CPU."""

import ctypes
import json
import math
import struct
import sys

from numba import cfunc


@cfunc("float64(float64, float64)", fastmath=False, error_model="numpy")
def horner(x, y):
    acc = 0.0
    p = 1.0
    for k in range(24):
        acc += p * (k + y)
        p *= x
    return acc


@cfunc("int64(int64)", error_model="numpy")
def collatz(n):
    steps = 0
    while n > 1 and steps < 10000:
        if n % 2 == 0:
            n //= 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


@cfunc("float64(float64)", error_model="numpy")
def wave(x):
    return math.sin(x) * math.exp(-abs(x) / 8.0) + math.sqrt(abs(x)) - math.atan2(x, 3.0)


@cfunc("int32(int32, int32)", error_model="numpy")
def mix(a, b):
    h = (a * 31 + b) ^ (b << 3)
    for _ in range(7):
        h = (h * 1103515245 + 12345) & 0x7FFFFFFF
    return h


FUNCTIONS = {
    "horner": (horner, ctypes.c_double, [ctypes.c_double, ctypes.c_double]),
    "collatz": (collatz, ctypes.c_int64, [ctypes.c_int64]),
    "wave": (wave, ctypes.c_double, [ctypes.c_double]),
    "mix": (mix, ctypes.c_int32, [ctypes.c_int32, ctypes.c_int32]),
}


def inputs(kind, count, seed):
    """Deterministic inputs: awkward values first (rotated by the seed, so that columns pair
    them differently), then a linear congruential sequence."""
    state = seed
    out = []
    awkward_f = [0.0, -0.0, 1.0, -1.5, 1e-300, 1e300, math.inf, -math.inf, math.nan, 0.999]
    awkward_f = awkward_f[seed % 10:] + awkward_f[:seed % 10]
    for i in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        if kind is ctypes.c_double:
            if i < len(awkward_f):
                out.append(awkward_f[i])
            else:
                out.append((state / 2**64 - 0.5) * 40.0)
        elif kind is ctypes.c_int64:
            out.append(state % 1_000_000)
        else:
            out.append((state % 2**32) - 2**31)
    return out


def bits(value, kind):
    if kind is ctypes.c_double:
        return struct.unpack("<Q", struct.pack("<d", value))[0]
    return value & (2**64 - 1)


def main():
    out_dir = sys.argv[1]
    ir = []
    expected = {}
    for name, (function, result, params) in FUNCTIONS.items():
        ir.append(function.inspect_llvm())
        call = ctypes.CFUNCTYPE(result, *params)(function.address)
        columns = [inputs(kind, 300, len(name) + 3 * i) for i, kind in enumerate(params)]
        rows = []
        for args in zip(*columns):
            rows.append({
                "args": [bits(a, k) for a, k in zip(args, params)],
                "result": bits(call(*args), result),
            })
        expected[name] = {"symbol": function.native_name, "rows": rows}
    with open(f"{out_dir}/expected.json", "w") as f:
        json.dump(expected, f)
    for i, text in enumerate(ir):
        with open(f"{out_dir}/numba-{i}.ll", "w") as f:
            f.write(text)


main()
