"""Tables and the goals of the CPU benchmark (`benchmarks/bench_cpu.py`), from its results.

Every table comes with the machine it was measured on: the CPU model, its vector ISA (and the
micro-kernel path rnnsim took), the BLAS kernel numpy ran (threadpoolctl) with the OPENBLAS_*
variables, and numpy's float32 matmul rate in that environment.
"""

from __future__ import annotations


def machine_line(machine, environment):
    """One paragraph: where and how a table was measured."""
    blas = "; ".join(environment.get("blas", [])) or "?"
    return (f"Machine: {machine['cpu']} ({machine['logical_cpus']} logical CPUs, {machine['threads']} threads used), "
            f"vector ISA {machine['isa']} (llvmlite CPU name `{machine.get('llvm_cpu', '?')}`, rnnsim's micro-kernel "
            f"path `{environment.get('rnnsim_simd', machine.get('rnnsim_simd', '?'))}`"
            f"{_capped(machine)}). "
            f"Environment **{environment['name']}**: OPENBLAS_CORETYPE={environment['OPENBLAS_CORETYPE']}, "
            f"OPENBLAS_L2_SIZE={environment['OPENBLAS_L2_SIZE']}; BLAS (threadpoolctl): {blas}; numpy float32 "
            f"2048² matmul {environment['matmul_gflops']:.0f} GFLOP/s. Load average at the start "
            f"{machine['load_average'][0]:.2f}.")


def _capped(machine):
    """', Numba compiling for haswell, PyTorch AVX2, oneDNN capped at AVX2' when a run capped the ISAs."""
    parts = []
    if machine.get("numba_cpu", "(host)") != "(host)":
        parts.append(f"Numba compiling for `{machine['numba_cpu']}`")
    if machine.get("torch_cpu_capability"):
        parts.append(f"PyTorch's CPU capability {machine['torch_cpu_capability']}")
    if machine.get("onednn_max_isa", "(unset)") != "(unset)":
        parts.append(f"oneDNN capped at {machine['onednn_max_isa']}")
    return "; " + ", ".join(parts) if parts else ""


def _cell(timing):
    if timing is None:
        return "–"
    return f"{timing['median_ms']:.1f} ({timing['q1_ms']:.1f}–{timing['q3_ms']:.1f})"


def _rate(result, kind, timing):
    passes = 3 if kind == "train" else 1
    return passes * result["flops_forward"] / timing["median_ms"] / 1e6


def alone_table(results, environment):
    """rnnsim and PyTorch, each alone in its own processes (alternating), in one environment."""
    name = environment["name"]
    lines = ["| case | pass | rnnsim alone ms (IQR) | PyTorch alone ms (IQR) | speed-up | "
             "rnnsim GFLOP/s (% numpy mm) | PyTorch GFLOP/s |", "|---|---|---|---|---|---|---|"]
    for r in results:
        alone = r.get("alone", {}).get(name)
        if alone is None:
            continue
        for kind in ("train", "forward"):
            ours, theirs = alone["rnnsim"][kind], alone["torch"][kind]
            ours_rate, theirs_rate = _rate(r, kind, ours), _rate(r, kind, theirs)
            lines.append(f"| {r['description']} | {kind} | {_cell(ours)} | {_cell(theirs)} | "
                         f"**{theirs['median_ms'] / ours['median_ms']:.2f}x** | "
                         f"{ours_rate:.1f} ({100 * ours_rate / environment['matmul_gflops']:.0f}%) | "
                         f"{theirs_rate:.1f} |")
    return "\n".join(lines)


def shared_table(results):
    """Both frameworks in this one process, steps alternating (OMP_WAIT_POLICY=PASSIVE for PyTorch)."""
    lines = ["| case | pass | rnnsim model ms (IQR) | rnnsim cell-level ms | PyTorch ms (IQR) | speed-up |",
             "|---|---|---|---|---|---|"]
    for r in results:
        for kind in ("train", "forward"):
            ours, cell, theirs = r[kind]["rnnsim"], r[kind]["rnnsim_cell"], r[kind]["torch"]
            lines.append(f"| {r['description']} | {kind} | {_cell(ours)} | {cell['median_ms']:.1f} | {_cell(theirs)} | "
                         f"{theirs['median_ms'] / ours['median_ms']:.2f}x |")
    return "\n".join(lines)


def _ratio(results, case, kind, environment):
    for r in results:
        if r["case"] == case and environment in r.get("alone", {}):
            alone = r["alone"][environment]
            return alone["torch"][kind]["median_ms"] / alone["rnnsim"][kind]["median_ms"]
    return None


def goal_environment(output):
    """The OPENBLAS_* unset environment (the last one; "as given" as well where that had them unset)."""
    return output["environments"][-1]


def goals(output):
    """Issue 18's goals, each as (goal, measured, met): on the OPENBLAS_* unset environment, each alone."""
    results = output["cases"]
    environment = goal_environment(output)
    name = environment["name"]
    rows = []

    def speed(label, case, kind, target):
        ratio = _ratio(results, case, kind, name)
        if ratio is not None:
            rows.append((f"{label} ≥ {target}x", f"{ratio:.2f}x", ratio >= target))

    speed("(a) GRU train", "a", "train", 3)
    speed("(b) SimpleRNN train", "b_rnn", "train", 3)
    speed("(b) LSTM(32) train", "b_lstm", "train", 2)
    for case, label in (("c256", "LSTM(256)"), ("c512", "LSTM(512)")):
        speed(f"(c) {label} train", case, "train", 1.2)
        speed(f"(c) {label} forward", case, "forward", 1)
    for r in results:
        if r["case"] == "c512" and name in r.get("alone", {}):
            rate = _rate(r, "train", r["alone"][name]["rnnsim"]["train"])
            share = 100 * rate / environment["matmul_gflops"]
            measured = f"{share:.0f}% ({rate:.0f} of {environment['matmul_gflops']:.0f} GFLOP/s, train)"
            rows.append(("(c) LSTM(512) recurrent math ≥ 60% of numpy's float32 matmul", measured, share >= 60))
    extras = output.get("extras")
    if extras:
        worst = max(v["overhead_vs_train_pct"] for v in extras["trace"].values())
        rows.append(("trace recording < 10% of a step", f"+{worst:.1f}% at most", worst < 10))
        for case in ("b_rnn", "b_lstm"):
            ours, theirs = extras["memory"][f"{case}/rnnsim"]["peak_mb"], extras["memory"][f"{case}/torch"]["peak_mb"]
            rows.append((f"peak memory {case} ≤ PyTorch's", f"{ours:.0f} MB vs {theirs:.0f} MB", ours <= theirs))
    return rows


def goals_table(output):
    lines = [f"Judged on **{goal_environment(output)['name']}**, each framework alone.", "",
             "| goal (issue 18) | measured | met |",
             "|---|---|---|"]
    lines += [f"| {goal} | {measured} | {'**yes**' if met else 'no'} |" for goal, measured, met in goals(output)]
    return "\n".join(lines)


def report(output):
    """The whole markdown report: per environment its machine line and table, the shared process, the goals."""
    machine, parts = output["machine"], []
    if output.get("torch_flush_denormal"):
        parts += ["PyTorch ran with torch.set_flush_denormal(True) (not its default).", ""]
    for environment in output["environments"]:
        parts += [f"### Each framework alone: {environment['name']}", "", machine_line(machine, environment), "",
                  alone_table(output["cases"], environment), ""]
    if output.get("shared_process"):
        given = output["environments"][0]
        parts += ["### Both in one process (the environment as given, OMP_WAIT_POLICY=PASSIVE)", "",
                  machine_line(machine, given), "", shared_table(output["cases"]), ""]
    parts += ["### Goals", "", goals_table(output)]
    return "\n".join(parts)
