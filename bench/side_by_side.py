#!/usr/bin/python3
"""modctx and Python, side by side, on this machine, in one go.

Runs, one after the other in one invocation:
  1. the Google Benchmark program (C++ core and C ABI, bench/bench_modctx.cpp),
     repetitions with medians;
  2. the same work in Python with Debian's python3-torch: a frozen dataclass
     with the reference's four construction checks (as a Python training
     stack writes it) and the forward-time checks, and the same requests
     through modctx from Python via ctypes;
  3. the load cost: dlopen of LibTorch alone, of modctx, and the first context
     (bench/load_time.c, one process per measurement), and `import torch`;
and prints the tables with the ratios. Every figure is a median over
repetitions. Results are also written to OUT/ (JSON and a Markdown summary).

Must run under /usr/bin/python3 (Debian's interpreter: python3-torch).
Usually started by `bash bench/run.sh`.
"""
import argparse
import ctypes
import dataclasses
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import timeit
from typing import Optional

import torch
import torch.utils.dlpack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bindings", "python"))
from modctx import (DLDataType, DLDevice, DLManagedTensor, kDLBfloat, kDLBool, kDLCPU, kDLFloat,  # noqa: E402
                    kDLInt, modctx_slice as ModctxSlice)

# --------------------------------------------------------------------------- the Python reference


ROUTES_MSG = ("ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
              "(mutually exclusive residual-stream routes)")
IMAGE_MASK_MSG = "ModalityContext: image_mask requires image_features to be set"
MODALITY_IDS_MSG = ("ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set "
                    "(routing without a residual extension is meaningless)")
KEY_PADDING_MASK_MSG = ("ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be set "
                        "(it masks the residual sequence; Cross-Attention uses image_mask)")


@dataclasses.dataclass(frozen=True)
class PyModalityContext:
    """The container as a Python training stack writes it: frozen, seven
    optional fields in the reference's order, the four presence checks."""

    inputs_embeds: Optional[torch.Tensor] = None
    prefix_embeds: Optional[torch.Tensor] = None
    output_slice: Optional[slice] = None
    image_features: Optional[torch.Tensor] = None
    image_mask: Optional[torch.Tensor] = None
    modality_ids: Optional[torch.Tensor] = None
    key_padding_mask: Optional[torch.Tensor] = None

    def __post_init__(self):
        routes = sum(t is not None for t in (self.inputs_embeds, self.prefix_embeds, self.image_features))
        if routes > 1:
            raise ValueError(ROUTES_MSG)
        if self.image_mask is not None and self.image_features is None:
            raise ValueError(IMAGE_MASK_MSG)
        extends_residual = self.prefix_embeds is not None or self.inputs_embeds is not None
        if self.modality_ids is not None and not extends_residual:
            raise ValueError(MODALITY_IDS_MSG)
        if self.key_padding_mask is not None and not extends_residual:
            raise ValueError(KEY_PADDING_MASK_MSG)


_EMPTY = PyModalityContext()


def py_forward_checks(tokens, modality, kv_caches):
    """The top of Transformer.forward(tokens, modality, kv_caches)."""
    m = modality if modality is not None else _EMPTY
    if (tokens is None) == (m.inputs_embeds is None):
        raise ValueError("Transformer.forward requires exactly one of tokens or modality.inputs_embeds")
    if kv_caches is not None:
        if m.output_slice is not None:
            raise ValueError("modality.output_slice is training-only; cannot be combined with kv_caches")
        for name in ("prefix_embeds", "image_features", "modality_ids"):
            if getattr(m, name) is not None:
                raise ValueError(f"modality.{name} is training-only; cannot be combined with kv_caches")
    if m.modality_ids is not None and m.modality_ids.dtype != torch.long:
        raise ValueError(f"modality.modality_ids.dtype must be torch.long, got {m.modality_ids.dtype}")


# --------------------------------------------------------------------------- the five contexts (as contexts.hpp)

B, N, T, D = 2, 576, 24, 4096
FIELDS = ["inputs_embeds", "prefix_embeds", "image_features", "image_mask", "modality_ids", "key_padding_mask"]
FIELD_ID = {name: i for i, name in enumerate(FIELDS)}

# name -> (fields [(field, shape, dtype)], slice or None, has_tokens, the field that makes it invalid)
PREFIX = ("prefix_embeds", (B, N, D), torch.bfloat16)
KPM = ("key_padding_mask", (B, N + T), torch.bool)
IDS = ("modality_ids", (B, N + T), torch.long)
FEATURES = ("image_features", (B, N, D), torch.bfloat16)
IMAGE_MASK = ("image_mask", (B, N), torch.bool)
CONTEXTS = {
    "text_only": ([], None, True, ("key_padding_mask", (B, T), torch.bool)),
    "pipeline_middle": ([("inputs_embeds", (B, N + T, D), torch.bfloat16)], None, False, PREFIX),
    "joint_decoder": ([PREFIX, KPM], slice(N, None), True, IMAGE_MASK),
    "cross_attention": ([FEATURES, IMAGE_MASK], None, True, IDS),
    "mot": ([PREFIX, IDS, KPM], slice(N, None), True, FEATURES),
}
KINDS = list(CONTEXTS)


def resized(shape, dtype, nbytes):
    s = [1] * len(shape)
    s[-1] = nbytes // torch.empty((), dtype=dtype).element_size()
    return tuple(s)


def make_tensors(kind, memory="cpu"):
    fields, _, _, extra = CONTEXTS[kind]
    out = {}
    for name, shape, dtype in fields:
        if memory == "cpu":
            out[name] = torch.zeros(shape, dtype=dtype)
        elif memory == "cpu_1KiB":
            out[name] = torch.zeros(resized(shape, dtype, 1 << 10), dtype=dtype)
        elif memory == "cpu_1GiB":
            out[name] = torch.zeros(resized(shape, dtype, 1 << 30), dtype=dtype)
        elif memory == "meta_1GiB":  # PyTorch's description-only tensors: nothing allocated
            out[name] = torch.empty(resized(shape, dtype, 1 << 30), dtype=dtype, device="meta")
    extra_name, extra_shape, extra_dtype = extra
    return out, (extra_name, torch.zeros(resized(extra_shape, extra_dtype, 1 << 10), dtype=extra_dtype))


# --------------------------------------------------------------------------- timing


def median_ns(stmt, env, reps, min_seconds):
    """Median over `reps` repetitions of the per-call CPU time of stmt, in ns
    (process CPU time, as Google Benchmark's cpu_time: what other processes
    on a shared machine disturb least). timeit turns the garbage collector
    off while timing (its default)."""
    timer = timeit.Timer(stmt, globals=env, timer=time.process_time)
    number = 1
    while True:  # calibrate: one repetition lasts at least min_seconds
        elapsed = timer.timeit(number)
        if elapsed >= min_seconds:
            break
        number = max(number * 2, int(number * min_seconds / max(elapsed, 1e-9) * 1.2))
    runs = timer.repeat(repeat=reps, number=number)
    return statistics.median(r / number for r in runs) * 1e9, min(runs) / number * 1e9


# --------------------------------------------------------------------------- ctypes: modctx from Python


# The ctypes structs of DLPack and modctx.h are the binding's (bindings/python),
# so there is one description of the C ABI's layout; the calls below are made
# straight through ctypes, without the binding's classes, to time modctx itself.
DL_DTYPES = {torch.bfloat16: (kDLBfloat, 16), torch.bool: (kDLBool, 8), torch.long: (kDLInt, 64),
             torch.float32: (kDLFloat, 32)}


def handmade_dlpack(t):
    """A DLManagedTensor made in Python from the tensor's metadata (deleter
    NULL: the caller keeps the tensor alive). Returns (struct, keep-alive)."""
    nd = t.dim()
    shape = (ctypes.c_int64 * nd)(*t.shape)
    strides = (ctypes.c_int64 * nd)(*t.stride())
    m = DLManagedTensor()
    m.dl_tensor.data = t.data_ptr()
    m.dl_tensor.device = DLDevice(kDLCPU, 0)
    m.dl_tensor.ndim = nd
    code, bits = DL_DTYPES[t.dtype]
    m.dl_tensor.dtype = DLDataType(code, bits, 1)
    m.dl_tensor.shape = shape
    m.dl_tensor.strides = strides
    return m, (shape, strides)


class Modctx:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        vp, P = ctypes.c_void_p, ctypes.POINTER
        for name, args, res in [
            ("modctx_builder_new", [P(vp)], ctypes.c_int),
            ("modctx_builder_set_dlpack", [vp, ctypes.c_int, vp], ctypes.c_int),
            ("modctx_builder_set_output_slice", [vp, P(ModctxSlice)], ctypes.c_int),
            ("modctx_builder_build", [vp, P(vp)], ctypes.c_int),
            ("modctx_check_forward", [vp, ctypes.c_int, ctypes.c_int], ctypes.c_int),
            ("modctx_builder_free", [vp], None),
            ("modctx_context_free", [vp], None),
            ("modctx_last_error", [], ctypes.c_char_p),
        ]:
            f = getattr(lib, name)
            f.argtypes, f.restype = args, res
        self.lib = lib
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.argtypes, get_pointer.restype = [ctypes.py_object, ctypes.c_char_p], ctypes.c_void_p
        set_name = ctypes.pythonapi.PyCapsule_SetName
        set_name.argtypes, set_name.restype = [ctypes.py_object, ctypes.c_char_p], ctypes.c_int
        self.get_pointer, self.set_name = get_pointer, set_name


def c_slice(s):
    if s is None:
        return None
    flags = (1 if s.start is not None else 0) | (2 if s.stop is not None else 0) | (4 if s.step is not None else 0)
    return ModctxSlice(s.start or 0, s.stop or 0, s.step or 0, flags)


def make_ctypes_request(mx, fields, sl, has_tokens):
    """One request from Python through modctx: each tensor becomes a DLPack
    tensor (torch.utils.dlpack.to_dlpack where PyTorch 1.13 exports the dtype;
    a hand-made struct for bool, which it refuses), handed over (the capsule
    renamed "used_dltensor", as consumers do), then slice, build, forward
    checks, free. Everything is counted, to_dlpack included."""
    lib, to_dlpack, get_pointer, set_name = mx.lib, torch.utils.dlpack.to_dlpack, mx.get_pointer, mx.set_name
    new, set_dlpack, set_slice = lib.modctx_builder_new, lib.modctx_builder_set_dlpack, lib.modctx_builder_set_output_slice
    build, check, bfree, cfree = lib.modctx_builder_build, lib.modctx_check_forward, lib.modctx_builder_free, lib.modctx_context_free
    byref, c_void_p = ctypes.byref, ctypes.c_void_p
    csl = c_slice(sl)
    items = [(FIELD_ID[name], t) for name, t in fields]

    def request():
        b = c_void_p()
        ctx = c_void_p()
        new(byref(b))
        s = 0
        keep = []
        for field, t in items:
            if t.dtype is torch.bool:
                m, k = handmade_dlpack(t)
                keep.append((m, k))
                s = s or set_dlpack(b, field, ctypes.addressof(m))
            else:
                cap = to_dlpack(t)
                s = s or set_dlpack(b, field, get_pointer(cap, b"dltensor"))
                set_name(cap, b"used_dltensor")
        if csl is not None:
            set_slice(b, byref(csl))
        s = s or build(b, byref(ctx))
        s = s or check(ctx, has_tokens, 0)
        bfree(b)
        cfree(ctx)
        return s

    return request


def make_ctypes_prebuilt(mx, fields, sl, has_tokens):
    """The same request with DLPack structs made once and handed in again each
    time (deleter NULL): what is left is ctypes' calls and modctx itself."""
    lib = mx.lib
    new, set_dlpack, set_slice = lib.modctx_builder_new, lib.modctx_builder_set_dlpack, lib.modctx_builder_set_output_slice
    build, check, bfree, cfree = lib.modctx_builder_build, lib.modctx_check_forward, lib.modctx_builder_free, lib.modctx_context_free
    byref, c_void_p = ctypes.byref, ctypes.c_void_p
    csl = c_slice(sl)
    made = [(FIELD_ID[name], handmade_dlpack(t)) for name, t in fields]
    items = [(field, ctypes.addressof(m)) for field, (m, _) in made]

    def request():
        b = c_void_p()
        ctx = c_void_p()
        new(byref(b))
        s = 0
        for field, ptr in items:
            s = s or set_dlpack(b, field, ptr)
        if csl is not None:
            set_slice(b, byref(csl))
        s = s or build(b, byref(ctx))
        s = s or check(ctx, has_tokens, 0)
        bfree(b)
        cfree(ctx)
        return s

    request.keep = made
    return request


# --------------------------------------------------------------------------- the Python measurements


def kwargs_source(names):
    return ", ".join(f"{n}={n}" for n in names)


def python_cases(mx, reps, min_seconds, log):
    res = {}
    for kind in KINDS:
        fields, sl, has_tokens, _ = CONTEXTS[kind]
        tensors, (extra_name, extra) = make_tensors(kind)
        env = dict(tensors)
        env.update(MC=PyModalityContext, fwd=py_forward_checks, output_slice=sl,
                   tokens=torch.zeros((B, T), dtype=torch.long) if has_tokens else None)
        names = list(tensors) + (["output_slice"] if sl is not None else [])
        ctor = f"MC({kwargs_source(names)})"
        env["ctx"] = eval(ctor, env)
        env[extra_name] = extra
        rejected_names = names + [extra_name]
        env["msg_len"] = 0
        cases = {
            "py_build": ctor,
            "py_build_forward": f"fwd(tokens, {ctor}, None)",
            "py_forward": "fwd(tokens, ctx, None)",
            "py_rejected": f"try:\n    MC({kwargs_source(rejected_names)})\nexcept ValueError as e:\n    msg_len = len(str(e))",
        }
        if mx:
            field_items = list(tensors.items())
            env["req"] = make_ctypes_request(mx, field_items, sl, int(has_tokens))
            env["pre"] = make_ctypes_prebuilt(mx, field_items, sl, int(has_tokens))
            env["rej"] = make_ctypes_prebuilt(mx, field_items + [(extra_name, extra)], sl, int(has_tokens))
            assert env["req"]() == 0 and env["pre"]() == 0, mx.lib.modctx_last_error()
            assert env["rej"]() != 0
            # The same work: the dataclass refuses with modctx's message, byte for byte.
            try:
                eval(f"MC({kwargs_source(rejected_names)})", env)
                raise SystemExit(f"the Python dataclass accepted the rejected {kind} context")
            except ValueError as e:
                if str(e).encode() != mx.lib.modctx_last_error():
                    raise SystemExit(f"messages differ for {kind}: {e} / {mx.lib.modctx_last_error()}")
            env["last_error"] = mx.lib.modctx_last_error
            cases.update({
                "ctypes_request": "req()",
                "ctypes_prebuilt": "pre()",
                "ctypes_rejected": "rej(); msg_len = len(last_error())",
            })
        for case, stmt in cases.items():
            res[f"{case}/{kind}"], res[f"{case}/{kind}@min"] = median_ns(stmt, env, reps, min_seconds)
            log(f"  {case}/{kind}: {res[f'{case}/{kind}']:.0f} ns")
    # Flat in size: the MoT context, every tensor 1 KiB, 1 GiB, or 1 GiB on
    # the meta device (described only).
    for memory in ("cpu_1KiB", "cpu_1GiB", "meta_1GiB"):
        tensors, _ = make_tensors("mot", memory)
        fields, sl, _, _ = CONTEXTS["mot"]
        env = dict(tensors)
        env.update(MC=PyModalityContext, fwd=py_forward_checks, output_slice=sl,
                   tokens=torch.zeros((B, T), dtype=torch.long))
        names = list(tensors) + ["output_slice"]
        res[f"size_py_build_forward/mot/{memory}"], _ = median_ns(
            f"fwd(tokens, MC({kwargs_source(names)}), None)", env, reps, min_seconds)
        if mx and memory != "meta_1GiB":
            env["pre"] = make_ctypes_prebuilt(mx, list(tensors.items()), sl, 1)
            res[f"size_ctypes_prebuilt/mot/{memory}"], _ = median_ns("pre()", env, reps, min_seconds)
        log(f"  size/mot/{memory} done")
        del env, tensors
    return res


# --------------------------------------------------------------------------- the C++ side and the load cost


def run_google_benchmark(binary, out_json, reps, min_seconds, log):
    # Random interleaving: the repetitions of all cases are shuffled together,
    # so a burst of load from other processes spreads over every case instead
    # of landing on the few that happen to run during it.
    cmd = [binary, f"--benchmark_repetitions={reps}", "--benchmark_report_aggregates_only=true",
           "--benchmark_enable_random_interleaving=true",
           f"--benchmark_min_time={min_seconds}", f"--benchmark_out={out_json}", "--benchmark_out_format=json"]
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        data = json.load(f)
    medians = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "min":
            medians[f"{b['run_name']}@min"] = b["cpu_time"]
        if b.get("aggregate_name") == "median":
            assert b["time_unit"] == "ns"
            if b.get("error_occurred"):
                raise SystemExit(f"benchmark {b['run_name']} failed: {b.get('error_message')}")
            medians[b["run_name"]] = b["cpu_time"]
            for counter in ("cpu_1KiB_ns", "cpu_1GiB_ns", "cuda_1GiB_described_ns", "max_over_min"):
                if counter in b:
                    medians[f"{b['run_name']}:{counter}"] = b[counter]
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            raise SystemExit(f"benchmark {b.get('run_name', b['name'])} failed: {b.get('error_message')}")
    return medians, data.get("context", {})


def libtorch_of(libmodctx):
    # libmodctx.so.1 needs libc10 alone; LibTorch's operator library is beside it.
    out = subprocess.run(["ldd", libmodctx], check=True, capture_output=True, text=True).stdout
    m = re.search(r"libc10\.so[^ ]* => (\S+)", out)
    if not m:
        raise SystemExit(f"cannot find libc10 in `ldd {libmodctx}`")
    folder = os.path.dirname(m.group(1))
    for name in sorted(os.listdir(folder)):
        if name.startswith("libtorch_cpu.so"):
            return os.path.join(folder, name)
    raise SystemExit(f"cannot find libtorch_cpu beside {m.group(1)}")


def load_costs(load_time, libmodctx, runs, log):
    libtorch = libtorch_of(libmodctx)
    samples = {}

    def add(prefix, line):
        for key, value in (p.split("=") for p in line.split()):
            samples.setdefault(f"{prefix}_{key}", []).append(float(value))

    # One warm-up of each (page cache), then alternate so both see the same conditions.
    for warm in (True,) + (False,) * runs:
        t = subprocess.run([load_time, "torch", libtorch], check=True, capture_output=True, text=True).stdout
        m = subprocess.run([load_time, "modctx", libmodctx], check=True, capture_output=True, text=True).stdout
        if not warm:
            add("torch", t)
            add("modctx", m)
    code = ("import time; w, c = time.perf_counter(), time.process_time(); import torch; "
            "print(time.perf_counter() - w, time.process_time() - c)")
    for _ in range(max(3, runs // 3)):
        wall, cpu = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                   text=True).stdout.split()
        samples.setdefault("python_import_torch", []).append(float(wall))
        samples.setdefault("python_import_torch_cpu", []).append(float(cpu))
    log(f"  load cost: {runs} runs each; LibTorch = {libtorch}")
    return {k: statistics.median(v) for k, v in samples.items()}, libtorch


# --------------------------------------------------------------------------- the report


def fmt_ns(v):
    if v is None:
        return "n/a"
    return f"{v:,.0f} ns" if v >= 100 else f"{v:.1f} ns"


def fmt_x(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:,.1f}x"


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} CPUs, {mem} RAM, {platform.platform()}"


def report(cpp, py, load, ctx, args):
    g = lambda d, k: d.get(k)
    out = []
    out.append(f"Machine: {machine()}")
    out.append(f"Load average (1 min) at the start / end of the run: {args.load_start:.2f} / {os.getloadavg()[0]:.2f} "
               f"(other processes on this machine; {os.cpu_count()} CPUs)")
    out.append(f"LibTorch {torch.__version__} (Debian), Python {platform.python_version()}, "
               f"Google Benchmark {ctx.get('library_build_type', '?')} build, modctx {ctx.get('modctx', '?')}")
    out.append(f"Medians over {args.reps} repetitions (each at least {args.min_time} s) of CPU time per call, "
               "both sides (Google Benchmark's cpu_time; Python timeit with time.process_time).")
    out.append("")
    out.append("## Per request, by context: build + construction checks + forward checks + destroy")
    out.append("")
    rows = []
    for k in KINDS:
        p = g(py, f"py_build_forward/{k}")
        c = g(cpp, f"core_build_forward/{k}")
        a = g(cpp, f"capi_dlpack/{k}")
        av = g(cpp, f"capi_dlpack_versioned/{k}")
        ct = g(py, f"ctypes_request/{k}")
        cp = g(py, f"ctypes_prebuilt/{k}")
        rows.append([k, fmt_ns(p), fmt_ns(c), fmt_x(p, c), fmt_ns(a), fmt_ns(av), fmt_x(p, a),
                     fmt_ns(ct), fmt_ns(cp), fmt_x(p, ct)])
    out.append(table(["context", "Python dataclass", "C++ core", "Python / core", "C ABI DLPack",
                      "C ABI DLPack 1.0", "Python / C ABI", "Python ctypes (to_dlpack)", "Python ctypes (structs reused)",
                      "Python / ctypes"], rows))
    out.append("")
    out.append("## The parts")
    out.append("")
    rows = []
    for k in KINDS:
        rows.append([k, fmt_ns(g(py, f"py_build/{k}")), fmt_ns(g(cpp, f"core_build/{k}")),
                     fmt_x(g(py, f"py_build/{k}"), g(cpp, f"core_build/{k}")),
                     fmt_ns(g(py, f"py_forward/{k}")), fmt_ns(g(cpp, f"core_forward/{k}")),
                     fmt_ns(g(cpp, f"capi_forward/{k}")),
                     fmt_x(g(py, f"py_forward/{k}"), g(cpp, f"core_forward/{k}")),
                     fmt_ns(g(cpp, f"core_describe/{k}")), fmt_ns(g(cpp, f"capi_describe/{k}"))])
    out.append(table(["context", "Python build", "C++ build", "ratio", "Python forward checks",
                      "C++ forward checks", "C ABI forward checks", "ratio", "C++ describe", "C ABI describe"], rows))
    out.append("")
    out.append("## Model check (forward checks + residual shapes + the reference's model-time checks + "
               "every field's shape, dtype and device)")
    out.append("")
    out.append(table(["context", "C++ validate_model", "C ABI modctx_check_model"],
                     [[k, fmt_ns(g(cpp, f"core_model_check/{k}")), fmt_ns(g(cpp, f"capi_model_check/{k}"))]
                      for k in KINDS]))
    out.append("")
    out.append("## A rejected context (the error path, message included)")
    out.append("")
    rows = []
    for k in KINDS:
        p = g(py, f"py_rejected/{k}")
        rows.append([k, fmt_ns(p), fmt_ns(g(cpp, f"core_rejected/{k}")), fmt_x(p, g(cpp, f"core_rejected/{k}")),
                     fmt_ns(g(cpp, f"core_rejected_throw/{k}")), fmt_ns(g(cpp, f"capi_rejected/{k}")),
                     fmt_ns(g(py, f"ctypes_rejected/{k}"))])
    out.append(table(["context", "Python (raise + str)", "C++ Status", "Python / C++", "C++ throw + catch",
                      "C ABI (imports + build + last_error)", "Python ctypes"], rows))
    out.append("")
    out.append("## Flat in size: the MoT request, every tensor 1 KiB, 1 GiB, or 1 GiB described only")
    out.append("")
    rows = []
    for label, cpp_mem, py_mem in [("1 KiB, CPU", "cpu_1KiB", "cpu_1KiB"), ("1 GiB, CPU (resident)", "cpu_1GiB", "cpu_1GiB"),
                                   ("1 GiB, cuda:0 described / meta (no allocation)", "cuda_1GiB_described", "meta_1GiB")]:
        rows.append([label, fmt_ns(g(cpp, f"size_core_build_forward/mot/{cpp_mem}")),
                     fmt_ns(g(cpp, f"size_capi_dlpack/mot/{cpp_mem}")),
                     fmt_ns(g(cpp, f"size_capi_dlpack_versioned/mot/{cpp_mem}")),
                     fmt_ns(g(py, f"size_py_build_forward/mot/{py_mem}")),
                     fmt_ns(g(py, f"size_ctypes_prebuilt/mot/{py_mem}"))])
    out.append(table(["tensors", "C++ core", "C ABI DLPack", "C ABI DLPack 1.0", "Python dataclass",
                      "Python ctypes (structs reused)"], rows))
    out.append("")
    out.append("The same, paired: the three sizes alternate in batches of 200 requests inside one benchmark, so a "
               "change of load hits all three alike (median of the per-repetition figures):")
    out.append("")
    rows = []
    for path, label in [("core_build_forward", "C++ core"), ("capi_dlpack", "C ABI DLPack"),
                        ("capi_dlpack_versioned", "C ABI DLPack 1.0")]:
        k = f"size_paired/{path}"
        mom = g(cpp, f"{k}:max_over_min")
        rows.append([label, fmt_ns(g(cpp, f"{k}:cpu_1KiB_ns")), fmt_ns(g(cpp, f"{k}:cpu_1GiB_ns")),
                     fmt_ns(g(cpp, f"{k}:cuda_1GiB_described_ns")), f"{mom:.3f}" if mom else "n/a"])
    out.append(table(["path", "1 KiB, CPU", "1 GiB, CPU", "1 GiB, cuda:0 described", "largest / smallest"], rows))
    out.append("")
    out.append("## Floors: what bounds the figures")
    out.append("")
    out.append(table(["what", "median"], [
        ["atomic increment + decrement (one at::Tensor copy, destroyed)", fmt_ns(g(cpp, "floor_atomic_pair/refcount"))],
        ["malloc + free, 192 bytes", fmt_ns(g(cpp, "floor_malloc_free/192B"))],
        ["at::for_blob tensor made + destroyed (LibTorch's part of one import)", fmt_ns(g(cpp, "floor_for_blob/tensor"))],
        ["modctx::make_tensor_view tensor made + destroyed (c10 only: what an import costs now)", fmt_ns(g(cpp, "floor_make_tensor_view/tensor"))],
        ["builder new + free (no tensor)", fmt_ns(g(cpp, "capi_builder_only/empty"))],
        ["one DLPack import (builder new + set_dlpack + free)", fmt_ns(g(cpp, "capi_one_import/prefix_embeds"))],
        ["MoT request + output slice applied to the hidden state (4 DLPack tensors in, 1 out)",
         fmt_ns(g(cpp, "capi_mot_and_slice/mot"))],
    ]))
    out.append("")
    if load:
        out.append("## Load cost (one process per run, page cache warm; CPU time = user + system)")
        out.append("")
        ms = lambda k: f"{load[k] * 1e3:.1f} ms"
        us = lambda v: f"{v * 1e6:.0f} us"
        out.append(table(["what", "CPU time", "wall time"], [
            ["dlopen LibTorch's operators alone (libtorch_cpu)", ms("torch_dlopen_cpu"), ms("torch_dlopen")],
            ["dlopen libmodctx.so.1 (it needs libc10 alone)", ms("modctx_dlopen_cpu"), ms("modctx_dlopen")],
            ["dlopen modctx to the first built + checked MoT context", ms("modctx_first_context_cpu"),
             ms("modctx_first_context")],
            ["  of which the first context, after dlopen",
             us(load["modctx_first_context_cpu"] - load["modctx_dlopen_cpu"]),
             us(load["modctx_first_context"] - load["modctx_dlopen"])],
            ["the second context", us(load["modctx_second_context_cpu"]), us(load["modctx_second_context"])],
            ["Python `import torch`, for comparison", ms("python_import_torch_cpu"), ms("python_import_torch")],
        ]))
        out.append("")
        mib = lambda k: f"{load[k] / 1024:.1f} MiB"
        out.append(table(["process", "peak resident memory (median)"], [
            ["dlopen libtorch_cpu", mib("torch_peak_rss_kib")],
            ["dlopen libmodctx.so.1, two MoT contexts", mib("modctx_peak_rss_kib")],
        ]))
        out.append("")
        out.append(f"modctx to the first context against libtorch_cpu's dlopen, wall: 1/"
                   f"{load['torch_dlopen'] / load['modctx_first_context']:.0f}")
        out.append("")
    # The targets.
    out.append("## Targets")
    out.append("")
    ratio = (g(py, "py_build_forward/mot") or 0) / (g(cpp, "core_build_forward/mot") or float("inf"))
    capi = g(cpp, "capi_dlpack/mot")
    capi4 = g(cpp, "capi_mot_and_slice/mot")
    paired = [g(cpp, f"size_paired/{p}:max_over_min") for p in ("core_build_forward", "capi_dlpack",
                                                                   "capi_dlpack_versioned")]
    paired = [v for v in paired if v]
    worst = max(paired) if paired else float("nan")
    ratio_min = (g(py, "py_build_forward/mot@min") or 0) / (g(cpp, "core_build_forward/mot@min") or float("inf"))
    out.append("Medians, and in brackets the smallest repetition (the least disturbed by other processes):")
    out.append("")
    out.append(f"- C++ core builds + checks a MoT context {ratio:.1f}x ({ratio_min:.1f}x) faster than the Python "
               f"dataclass (target >= 25x): {'MET' if ratio >= 25 else 'MISSED'}")
    out.append(f"- C ABI from DLPack, MoT (3 tensors + slice): {fmt_ns(capi)} ({fmt_ns(g(cpp, 'capi_dlpack/mot@min'))}) "
               f"per context; DLPack 1.0: {fmt_ns(g(cpp, 'capi_dlpack_versioned/mot'))} "
               f"({fmt_ns(g(cpp, 'capi_dlpack_versioned/mot@min'))}) (target < 1 us): "
               f"{'MET' if capi and capi < 1000 else 'MISSED'}")
    out.append(f"- C ABI, 4 DLPack tensors in (MoT + hidden-state slice): {fmt_ns(capi4)} "
               f"({fmt_ns(g(cpp, 'capi_mot_and_slice/mot@min'))}) (target < 1 us): "
               f"{'MET' if capi4 and capi4 < 1000 else 'MISSED'}")
    out.append(f"- Size: 1 KiB, 1 GiB and described-only tensors, paired, largest / smallest per path: at most "
               f"{worst:.3f} (flat: {'yes' if worst < 1.10 else 'NO'}; the instruction counts of bench/profile.sh "
               "are the exact proof)")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="the build folder configured with -Dbench=true")
    ap.add_argument("--out", help="where results go (default BUILD/bench-results)")
    ap.add_argument("--reps", type=int, default=10, help="repetitions per case (medians are reported)")
    ap.add_argument("--min-time", type=float, default=0.05, help="seconds per repetition, at least")
    ap.add_argument("--load-runs", type=int, default=15, help="processes per load-cost measurement")
    ap.add_argument("--skip-cpp", action="store_true", help="Python side only")
    args = ap.parse_args()
    args.load_start = os.getloadavg()[0]

    build = os.path.abspath(args.build)
    out_dir = args.out or os.path.join(build, "bench-results")
    os.makedirs(out_dir, exist_ok=True)
    libmodctx = os.path.join(build, "capi", "libmodctx.so.1")
    log = lambda s: print(s, file=sys.stderr, flush=True)

    cpp, ctx, load = {}, {}, {}
    if not args.skip_cpp:
        log("[1/3] C++ core and C ABI (Google Benchmark)")
        cpp, ctx = run_google_benchmark(os.path.join(build, "bench", "bench_modctx"),
                                        os.path.join(out_dir, "google-benchmark.json"), args.reps, args.min_time, log)
    log("[2/3] Python: frozen dataclass, and modctx through ctypes")
    mx = Modctx(libmodctx)
    py = python_cases(mx, args.reps, args.min_time, log)
    if not args.skip_cpp:
        log("[3/3] load cost")
        load, _ = load_costs(os.path.join(build, "bench", "load_time"), libmodctx, args.load_runs, log)

    text = report(cpp, py, load, ctx, args)
    print(text)
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out_dir, "medians.json"), "w") as f:
        json.dump({"cpp_ns": cpp, "python_ns": py, "load_s": load, "machine": machine()}, f, indent=1)
    log(f"results: {out_dir}/summary.md, medians.json, google-benchmark.json")


if __name__ == "__main__":
    main()
