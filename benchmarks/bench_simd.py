"""The recurrent product's micro-kernel alone, one thread: GFLOP/s of `simd.matmul_packed_into` for each
vector width (the packing picks the tile, so all three run in one process) against numpy's matmul.

    .venv/bin/python benchmarks/bench_simd.py            # the cells' shapes at U = 32, 256, 512
    .venv/bin/python benchmarks/bench_simd.py --repeats 200

Shapes are one thread's chunk of a step: (rows, K) @ (K, N), e.g. LSTM(512) at B64 on 2 threads:
32 rows, K = 512, N = 2048 (forward h U) and K = 2048, N = 512 (backward dz U^T).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SHAPES = {
    "lstm32 fwd": (64, 32, 128), "lstm32 bwd": (64, 128, 32), "gru32 zr": (64, 32, 64),
    "lstm256 fwd": (32, 256, 1024), "lstm256 bwd": (32, 1024, 256),
    "lstm512 fwd": (32, 512, 2048), "lstm512 bwd": (32, 2048, 512),
}


def rate(function, flops, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return flops / float(np.median(times)) / 1e9


def _repeat(function, calls, *args, **kwargs):
    def run():
        for _ in range(calls):
            function(*args, **kwargs)

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from rnnsim.cells import simd

    threadpool_limits(1)
    dtype = np.dtype(args.dtype)
    out = {"process_isa": simd.ISA}
    for name, (rows, depth, width) in SHAPES.items():
        rng = np.random.default_rng(0)
        a = rng.normal(size=(rows, depth)).astype(dtype)
        b = rng.normal(size=(depth, width)).astype(dtype)
        c = np.empty((rows, width), dtype)
        flops = 2.0 * rows * depth * width
        calls = max(1, int(2e7 // flops))  # enough calls per timing that the clock's resolution does not matter
        row = {"numpy": rate(_repeat(np.matmul, calls, a, b, out=c), flops * calls, args.repeats)}
        for isa in simd.ISAS:
            packed = simd.pack_columns(b, isa)
            row[isa] = rate(_repeat(simd.matmul_packed_into, calls, a, packed, c, 0, rows, False), flops * calls,
                            args.repeats)
            np.testing.assert_allclose(c, a @ b, rtol=1e-3, atol=1e-3 * depth / 32)
        out[name] = {k: round(v, 1) for k, v in row.items()}
        print(name, out[name], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
