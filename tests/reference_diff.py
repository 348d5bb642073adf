#!/usr/bin/python3
"""modctx against a Python model of the reference (KempnerForge's ModalityContext),
through the C ABI with ctypes (the package in bindings/python).

The model below is written from the reference's contract alone: a frozen
dataclass ModalityContext with the four construction checks, and the checks
at the top of Transformer.forward. Both sides see every
combination of
  - the 6 tensor fields present or absent (64 patterns),
  - output_slice None or slice(4, None),
  - tokens given or not,
  - kv_caches given or not,
  - modality_ids int64 or int32 (when present),
and must agree: the same accept/reject, the same family of error
(construction: modctx.ContextError; forward: modctx.ForwardError; both are
ValueError, as in the reference) and byte-identical messages. Then slices:
modctx's slice.indices against Python's, and its h[:, s, :] against PyTorch's,
on a grid.

usage: /usr/bin/python3 tests/reference_diff.py [LIBRARY] [--lenient]
LIBRARY: libmodctx.so (default: $MODCTX_LIBRARY, else build/capi/libmodctx.so.1).
Known divergences are listed and counted as failures (--lenient: listed only).
Prints 'N passed, M failed'; exits 77 without PyTorch.
"""
import dataclasses
import itertools
import os
import sys
from typing import Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

try:
    import torch
except ImportError:
    print("SKIP: PyTorch is missing (Debian's python3-torch is for /usr/bin/python3)")
    sys.exit(77)

import modctx  # noqa: E402

# ---------------------------------------------------------------- the reference, modelled from its contract

ROUTES = ("ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
          "(mutually exclusive residual-stream routes)")
IMAGE_MASK = "ModalityContext: image_mask requires image_features to be set"
MODALITY_IDS = ("ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set "
                "(routing without a residual extension is meaningless)")
KEY_PADDING_MASK = ("ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be set "
                    "(it masks the residual sequence; Cross-Attention uses image_mask)")


class ConstructionError(ValueError):
    """A ValueError raised by ModalityContext.__post_init__."""


class ForwardCheckError(ValueError):
    """A ValueError raised at the top of Transformer.forward."""


@dataclasses.dataclass(frozen=True)
class ModalityContext:
    inputs_embeds: Optional[torch.Tensor] = None
    prefix_embeds: Optional[torch.Tensor] = None
    output_slice: Optional[slice] = None
    image_features: Optional[torch.Tensor] = None
    image_mask: Optional[torch.Tensor] = None
    modality_ids: Optional[torch.Tensor] = None
    key_padding_mask: Optional[torch.Tensor] = None

    def __post_init__(self):
        routes = [self.inputs_embeds, self.prefix_embeds, self.image_features]
        if sum(r is not None for r in routes) > 1:
            raise ConstructionError(ROUTES)
        if self.image_mask is not None and self.image_features is None:
            raise ConstructionError(IMAGE_MASK)
        extension = self.prefix_embeds is not None or self.inputs_embeds is not None
        if self.modality_ids is not None and not extension:
            raise ConstructionError(MODALITY_IDS)
        if self.key_padding_mask is not None and not extension:
            raise ConstructionError(KEY_PADDING_MASK)


def forward_checks(tokens, modality, kv_caches):
    """The top of Transformer.forward(tokens, modality, kv_caches)."""
    if modality is None:
        modality = ModalityContext()
    if (tokens is None) == (modality.inputs_embeds is None):
        raise ForwardCheckError("Transformer.forward requires exactly one of tokens or modality.inputs_embeds")
    if kv_caches is not None:
        for name in ("output_slice", "prefix_embeds", "image_features", "modality_ids"):
            if getattr(modality, name) is not None:
                raise ForwardCheckError("modality.%s is training-only; cannot be combined with kv_caches" % name)
    if modality.modality_ids is not None and modality.modality_ids.dtype != torch.long:
        raise ForwardCheckError("modality.modality_ids.dtype must be torch.long, got %s" % modality.modality_ids.dtype)


# ---------------------------------------------------------------- bookkeeping

passed = 0
failed = 0
known = {}  # description -> [count, first example]
# Known divergences count as failures unless --lenient (both were fixed in modctx).
STRICT = "--lenient" not in sys.argv


def record(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        if failed <= 20:
            print("FAILED:", what)


def record_known(description, example):
    entry = known.setdefault(description, [0, example])
    entry[0] += 1
    if STRICT:
        record(False, "%s: %s" % (description, example))


def outcome_reference(fn):
    """('ok', value) or (family, message) for the model."""
    try:
        return "ok", fn()
    except ConstructionError as e:
        return "construction", str(e)
    except ForwardCheckError as e:
        return "forward", str(e)


FAMILIES = {modctx.ContextError: "construction", modctx.ForwardError: "forward", modctx.SliceError: "slice"}


def outcome_modctx(fn):
    try:
        return "ok", fn()
    except modctx.ModctxError as e:
        if not isinstance(e, ValueError):
            return "not a ValueError", str(e)
        return FAMILIES.get(type(e), type(e).__name__), str(e)


def same(ref, got):
    return ref[0] == got[0] and (ref[0] == "ok" or ref[1] == got[1])


# ---------------------------------------------------------------- the construction and forward grid

FIELDS = ["inputs_embeds", "prefix_embeds", "image_features", "image_mask", "modality_ids", "key_padding_mask"]


def make_tensor(name, ids_dtype):
    B, S, N, D = 2, 3, 4, 8
    return {
        "inputs_embeds": lambda: torch.randn(B, S, D),
        "prefix_embeds": lambda: torch.randn(B, N, D, dtype=torch.bfloat16),
        "image_features": lambda: torch.randn(B, N, D),
        "image_mask": lambda: torch.ones(B, N, dtype=torch.bool),
        "modality_ids": lambda: torch.zeros(B, N + S, dtype=ids_dtype),
        "key_padding_mask": lambda: torch.ones(B, N + S, dtype=torch.bool),
    }[name]()


def grid(lib):
    cases = 0
    for present in itertools.product([False, True], repeat=len(FIELDS)):
        names = [f for f, p in zip(FIELDS, present) if p]
        for ids_dtype in ([torch.int64, torch.int32] if "modality_ids" in names else [torch.int64]):
            fields = {name: make_tensor(name, ids_dtype) for name in names}
            for output_slice in (None, slice(4, None)):
                ref = outcome_reference(lambda: ModalityContext(output_slice=output_slice, **fields))
                got = outcome_modctx(lambda: lib.context(output_slice=output_slice, **fields))
                case = "fields=%s ids=%s output_slice=%s" % (names, ids_dtype, output_slice)
                record(same(ref, got), "construction %s: reference %r, modctx %r" % (case, ref, got))
                cases += 1
                if ref[0] != "ok" or got[0] != "ok":
                    continue
                ref_ctx, ctx = ref[1], got[1]
                for tokens, kv_caches in itertools.product((None, torch.zeros(2, 3, dtype=torch.long)), (None, [])):
                    r = outcome_reference(lambda: forward_checks(tokens, ref_ctx, kv_caches))
                    g = outcome_modctx(lambda: ctx.check_forward(tokens=tokens, kv_caches=kv_caches))
                    record(same(r, g), "forward %s tokens=%s kv_caches=%s: reference %r, modctx %r"
                           % (case, tokens is not None, kv_caches is not None, r, g))
                ctx.close()
    # A missing context behaves as an empty one.
    for tokens, kv_caches in itertools.product((None, torch.zeros(2, 3, dtype=torch.long)), (None, [])):
        r = outcome_reference(lambda: forward_checks(tokens, None, kv_caches))
        g = outcome_modctx(lambda: lib.check_forward(None, tokens=tokens, kv_caches=kv_caches))
        record(same(r, g), "forward without a context: reference %r, modctx %r" % (r, g))
    return cases


def dtype_names(lib):
    """The tail of the dtype message is PyTorch's dtype name, for every dtype."""
    for dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool, torch.float32,
                  torch.float64, torch.float16, torch.bfloat16, torch.complex64, torch.complex128):
        fields = dict(prefix_embeds=torch.randn(1, 2, 4), modality_ids=torch.zeros(1, 5, dtype=dtype))
        tokens = torch.zeros(1, 3, dtype=torch.long)
        r = outcome_reference(lambda: forward_checks(tokens, ModalityContext(**fields), None))
        g = outcome_modctx(lambda: lib.context(**fields).check_forward(tokens=tokens))
        record(same(r, g), "modality_ids %s: reference %r, modctx %r" % (dtype, r, g))


def replace_reruns_the_checks(lib):
    """dataclasses.replace on both sides: the checks run again."""
    ids = torch.zeros(2, 7, dtype=torch.long)
    ref = ModalityContext(prefix_embeds=torch.randn(2, 4, 8), modality_ids=ids)
    ctx = lib.context(prefix_embeds=torch.randn(2, 4, 8), modality_ids=ids)
    for changes in (dict(prefix_embeds=None), dict(image_features=torch.randn(2, 4, 8)),
                    dict(prefix_embeds=None, inputs_embeds=torch.randn(2, 7, 8)), dict(output_slice=slice(4, None)),
                    dict(image_mask=torch.ones(2, 4, dtype=torch.bool))):
        r = outcome_reference(lambda: dataclasses.replace(ref, **changes))
        g = outcome_modctx(lambda: ctx.replace(**changes))
        record(same(r, g), "replace(%s): reference %r, modctx %r" % (sorted(changes), r, g))


# ---------------------------------------------------------------- slices

def python_indices(s, n):
    try:
        start, stop, step = s.indices(n)
    except ValueError as e:
        return "slice", str(e)
    return "ok", (start, stop, step, len(range(start, stop, step)))


def torch_apply(h, s):
    try:
        return "ok", h[:, s, :]
    except ValueError as e:
        return "slice", str(e)
    except IndexError as e:
        return "forward", str(e)  # modctx: MODCTX_ERR_SHAPE, a ForwardError


def slices(lib):
    bounds = [None] + list(range(-9, 10))
    steps = [None, 1, 2, 3, -1, -2, 0]
    count = 0
    for start, stop, step in itertools.product(bounds, bounds, steps):
        s = slice(start, stop, step)
        for n in range(-1, 9):
            r = python_indices(s, n)
            g = outcome_modctx(lambda: lib.slice_indices(s, n))
            ok = same(r, g) and (r[0] != "ok" or r[1] == g[1])
            if not ok and n < 0 and step == 0 and g == ("slice", "slice step cannot be zero"):
                record_known("slice.indices with step 0 and a negative length: modctx reports the step ('slice step "
                             "cannot be zero'), Python the length ('length should not be negative')",
                             "%s.indices(%d): Python %r, modctx %r" % (s, n, r, g))
            else:
                record(ok, "%s.indices(%d): Python %r, modctx %r" % (s, n, r, g))
            count += 1
        ctx = lib.context(output_slice=s)
        for n in range(0, 8):
            h = torch.arange(2 * n * 3, dtype=torch.float32).reshape(2, n, 3)
            r = torch_apply(h, s)
            g = outcome_modctx(lambda: ctx.apply_output_slice(h))
            ok = same(r, g)
            if ok and r[0] == "ok":
                ok = (r[1].shape == g[1].shape and torch.equal(r[1], g[1]) and r[1].stride() == g[1].stride()
                      and (r[1].numel() == 0 or r[1].data_ptr() == g[1].data_ptr()))
            record(ok, "h[:, %s, :] on %s: PyTorch %r, modctx %r" % (s, tuple(h.shape), r, g))
            count += 1
        # Hidden states of other ranks: PyTorch checks the rank before the step.
        for shape in ((), (5,), (2, 5), (2, 5, 3, 2)):
            h = torch.zeros(shape)
            r = torch_apply(h, s)
            g = outcome_modctx(lambda: ctx.apply_output_slice(h))
            ok = same(r, g) and (r[0] != "ok" or r[1].shape == g[1].shape)
            if not ok and len(shape) < 3 and step is not None and step <= 0 and r[0] == "forward":
                record_known("apply_output_slice on a hidden state of fewer than 3 dims with a step <= 0: modctx "
                             "reports the step (MODCTX_ERR_SLICE), PyTorch's h[:, s, :] the rank (IndexError "
                             "'too many indices for tensor of dimension K')",
                             "h%s[:, %s, :]: PyTorch %r, modctx %r" % (shape, s, r, g))
            else:
                record(ok, "h[:, %s, :] on %s: PyTorch %r, modctx %r" % (s, shape, r, g))
            count += 1
        ctx.close()
    return count


def main():
    args = [a for a in sys.argv[1:] if a not in ("--strict", "--lenient")]
    path = args[0] if args else os.environ.get("MODCTX_LIBRARY") or os.path.join(ROOT, "build", "capi",
                                                                                  "libmodctx.so.1")
    lib = modctx.load(path)
    cases = grid(lib)
    print("construction and forward grid: %d contexts (64 presence patterns x ids dtype x output_slice), "
          "each with tokens x kv_caches" % cases)
    dtype_names(lib)
    replace_reruns_the_checks(lib)
    print("slices: %d comparisons with Python's slice.indices and PyTorch's h[:, s, :]" % slices(lib))
    s = modctx.export_stats()
    record(modctx.live_exports() == 0 or _collect(), "every tensor handed to modctx was released")
    record(s["unknown"] == 0, "no tensor released twice")
    for description, (n, example) in known.items():
        print("known divergence (%d cases%s): %s\n  e.g. %s" % (n, ", counted as failures" if STRICT else "",
                                                                description, example))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def _collect():
    import gc
    gc.collect()
    return modctx.live_exports() == 0


if __name__ == "__main__":
    main()
