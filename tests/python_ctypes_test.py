#!/usr/bin/python3
"""modctx from Python through ctypes (the package in bindings/python), with PyTorch
tensors handed in and out as DLPack. Plain asserts; prints 'N passed, M failed'.

usage: /usr/bin/python3 tests/python_ctypes_test.py [LIBRARY]
LIBRARY: libmodctx.so (default: $MODCTX_LIBRARY, else build/capi/libmodctx.so.1).
Exits 77 (skipped) when PyTorch is missing.
"""
import gc
import os
import sys
import threading
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

try:
    import torch
except ImportError:
    print("SKIP: PyTorch is missing (Debian's python3-torch is for /usr/bin/python3)")
    sys.exit(77)

import modctx  # noqa: E402

ROUTES = ("ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
          "(mutually exclusive residual-stream routes)")
IMAGE_MASK = "ModalityContext: image_mask requires image_features to be set"
MODALITY_IDS = ("ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set "
                "(routing without a residual extension is meaningless)")
KEY_PADDING_MASK = ("ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be set "
                    "(it masks the residual sequence; Cross-Attention uses image_mask)")
FORWARD_INPUTS = "Transformer.forward requires exactly one of tokens or modality.inputs_embeds"

passed = 0
failed = 0


def expect(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        caller = traceback.extract_stack(limit=2)[0]
        print("FAILED line %d: %s" % (caller.lineno, what))


def expect_error(fn, cls, status, message=None):
    """fn() raises cls with status (and the exact message, when given)."""
    try:
        fn()
    except modctx.ModctxError as e:
        ok = (type(e) is cls and isinstance(e, ValueError) and e.status == status
              and (message is None or (str(e) == message and e.message == message)))
        expect(ok, "raised %s(%s, %r), wanted %s(%s, %r)" % (type(e).__name__, e.status_name, str(e), cls.__name__,
                                                            status.name, message))
        return e
    expect(False, "no error, wanted %s(%s)" % (cls.__name__, status.name))
    return None


def released_everything():
    gc.collect()
    s = modctx.export_stats()
    return modctx.live_exports() == 0 and s["exported"] == s["released"] and s["unknown"] == 0


def lib_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.environ.get("MODCTX_LIBRARY") or os.path.join(ROOT, "build", "capi", "libmodctx.so.1")


lib = modctx.load(lib_path())


def f32(*shape):
    return torch.randn(*shape)


def mask(*shape):
    return torch.ones(*shape, dtype=torch.bool)


# ---------------------------------------------------------------- tests


def test_loading_and_names():
    expect(lib.version.count(".") == 2, "version")
    expect(lib.abi_version >= 1, "abi version")
    expect(lib.status_name(modctx.Status.ROUTES) == "MODCTX_ERR_ROUTES", "status name")
    expect(lib.status_name(999) == "MODCTX_ERR_UNKNOWN", "unknown status name")
    expect([lib.field_name(f) for f in modctx.Field] == [f.name for f in modctx.Field], "field names")
    expect(lib.field_name(6) is None, "unknown field name")
    expect([lib.arch_name(a) for a in modctx.Arch] == [a.name for a in modctx.Arch], "arch names")
    old = os.environ.get("MODCTX_LIBRARY")
    os.environ["MODCTX_LIBRARY"] = lib.path
    try:
        expect(modctx.load().version == lib.version, "MODCTX_LIBRARY")
    finally:
        if old is None:
            del os.environ["MODCTX_LIBRARY"]
        else:
            os.environ["MODCTX_LIBRARY"] = old


def test_construction_checks():
    e = expect_error(lambda: lib.context(image_mask=mask(2, 4)), modctx.ContextError, modctx.Status.IMAGE_MASK,
                     IMAGE_MASK)
    expect(e is not None and e.status_name == "MODCTX_ERR_IMAGE_MASK", "status_name")
    expect_error(lambda: lib.context(inputs_embeds=f32(2, 3, 8), prefix_embeds=f32(2, 4, 8)), modctx.ContextError,
                 modctx.Status.ROUTES, ROUTES)
    expect_error(lambda: lib.context(image_features=f32(2, 4, 8), modality_ids=torch.zeros(2, 7, dtype=torch.long)),
                 modctx.ContextError, modctx.Status.MODALITY_IDS, MODALITY_IDS)
    expect_error(lambda: lib.context(image_features=f32(2, 4, 8), key_padding_mask=mask(2, 7)), modctx.ContextError,
                 modctx.Status.KEY_PADDING_MASK, KEY_PADDING_MASK)
    ctx = lib.context()
    expect(str(ctx) == "ModalityContext()", "empty context")
    ctx = lib.context(image_features=f32(2, 4, 8), image_mask=mask(2, 4), output_slice=slice(None, -1))
    expect(ctx.output_slice == slice(None, -1, None), "output slice")
    expect(ctx.has("image_mask") and not ctx.has(modctx.Field.prefix_embeds), "has")
    expect(ctx.prefix_embeds is None, "unset field reads None")
    expect_error(lambda: lib.context(prefix_embed=f32(1, 1, 1)), modctx.ArgumentError,
                 modctx.Status.INVALID_ARGUMENT)
    ctx.close()
    expect(released_everything(), "released")


def test_forward_checks():
    ids = torch.zeros(2, 12, dtype=torch.long)
    ctx = lib.context(prefix_embeds=modctx.described_as(f32(2, 4, 8), "cuda:0"), modality_ids=ids,
                      output_slice=slice(4, None))
    expect(str(ctx) == "ModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cuda:0, output_slice=slice(4, None, "
           "None), modality_ids=Tensor[2, 12] int64 cpu)", "describe: %s" % ctx)
    tokens = torch.zeros(2, 8, dtype=torch.long)
    try:  # CPU-only PyTorch cannot hold a cuda:0 tensor: the exported tensor is released all the same
        ctx.prefix_embeds
        expect(torch.cuda.is_available(), "a cuda tensor out of CPU-only PyTorch")
    except modctx.UnsupportedError:
        expect(True, "refused")
    ctx.check_forward(tokens=tokens)
    lib.check_forward(None, tokens=tokens)
    expect_error(lambda: lib.check_forward(None), modctx.ForwardError, modctx.Status.FORWARD_INPUTS, FORWARD_INPUTS)
    expect_error(lambda: ctx.check_forward(tokens=tokens, kv_caches=[]), modctx.ForwardError, modctx.Status.KV_CACHE,
                 "modality.output_slice is training-only; cannot be combined with kv_caches")
    for dtype in (torch.int32, torch.uint8, torch.bool, torch.float32, torch.bfloat16, torch.float16, torch.int16):
        bad = ctx.replace(modality_ids=ids.to(dtype))
        expect_error(lambda: bad.check_forward(tokens=tokens), modctx.ForwardError, modctx.Status.DTYPE,
                     "modality.modality_ids.dtype must be torch.long, got %s" % dtype)
    ctx.close()
    expect_error(lambda: ctx.check_forward(tokens=tokens), modctx.ArgumentError, modctx.Status.INVALID_ARGUMENT)
    bad = None
    expect(released_everything(), "released")


def test_zero_copy_and_dtypes():
    img = f32(2, 6, 8)
    strided = img[:, ::2, 1:]  # a non-contiguous view with a storage offset
    kpm = torch.tensor([[True, False, True], [False, True, True]])
    ctx = lib.context(prefix_embeds=strided, key_padding_mask=kpm)
    out = ctx.prefix_embeds
    expect(out.data_ptr() == strided.data_ptr() and out.stride() == strided.stride(), "strided view, no copy")
    expect(torch.equal(out, strided), "values")
    k = ctx.key_padding_mask
    expect(k.dtype == torch.bool and torch.equal(k, kpm) and k.data_ptr() == kpm.data_ptr(), "bool mask in and out")
    expect(modctx.live_exports() == 2, "held while the context lives")
    ctx.close()
    expect(modctx.live_exports() == 2, "the exported torch tensors keep them alive")
    del out, k
    expect(released_everything(), "released after the views go")
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16"), (torch.float64, "float64"),
                        (torch.complex64, "complex64"), (torch.int8, "int8"), (torch.uint8, "uint8")):
        ctx = lib.context(inputs_embeds=torch.zeros(1, 2, 3, dtype=dtype))
        expect(str(ctx) == "ModalityContext(inputs_embeds=Tensor[1, 2, 3] %s cpu)" % name, str(ctx))
        expect(ctx.inputs_embeds.dtype == dtype, "dtype round trip %s" % name)
    scalar = lib.context(inputs_embeds=torch.tensor(3.0))
    expect(str(scalar) == "ModalityContext(inputs_embeds=Tensor[] float32 cpu)", str(scalar))
    empty = lib.context(inputs_embeds=torch.zeros(0, 5, 8))
    expect(empty.inputs_embeds.shape == (0, 5, 8), "zero elements")
    del scalar, empty, ctx
    expect(released_everything(), "released")


def test_versioned_and_builder():
    b = lib.builder()
    t = f32(2, 4, 8)
    b.set("prefix_embeds", t, versioned=True).set_output_slice(slice(4, None))
    ctx = b.build()
    ctx2 = b.build()
    b.close()
    expect(ctx.prefix_embeds.data_ptr() == t.data_ptr(), "versioned in, zero copy")
    again = ctx.retain()
    ctx.close()
    expect(str(again).startswith("ModalityContext(prefix_embeds=Tensor[2, 4, 8]"), "retained")
    again.close()
    expect(modctx.live_exports() == 1, "the second build still holds it")
    ctx2.close()
    # A closed builder is a NULL builder: the tensor is still consumed.
    expect_error(lambda: b.set("prefix_embeds", f32(1)), modctx.ArgumentError, modctx.Status.INVALID_ARGUMENT,
                 "modctx_builder_set_dlpack: builder is NULL")
    expect(released_everything(), "released")


def test_apply_output_slice_matches_pytorch():
    h = f32(2, 10, 4)
    for s in (slice(4, None), slice(None, -1), slice(1, 9, 3), slice(-3, None, 2), slice(20, None), slice(None)):
        ctx = lib.context(output_slice=s)
        out = ctx.apply_output_slice(h)
        want = h[:, s, :]
        expect(torch.equal(out, want) and out.shape == want.shape, "h[:, %s, :]" % (s,))
        expect(out.numel() == 0 or out.data_ptr() == want.data_ptr(), "a view")
    # A strided view with a storage offset: the result's address and strides are PyTorch's.
    base = torch.arange(2 * 20 * 6, dtype=torch.float32).reshape(2, 20, 6)
    h = base[:, 1::2, ::3]
    for s in (slice(4, None), slice(1, 9, 3), slice(-3, None, 2), slice(None), slice(12, None), slice(0, 1, 100)):
        ctx = lib.context(output_slice=s)
        out = ctx.apply_output_slice(h)
        want = h[:, s, :]
        expect(torch.equal(out, want) and out.shape == want.shape, "strided h[:, %s, :]" % (s,))
        expect(out.numel() == 0 or (out.data_ptr() == want.data_ptr() and out.stride() == want.stride()),
               "strided h[:, %s, :]: a view with PyTorch's strides %s, got %s" % (s, want.stride(), out.stride()))
    ctx = lib.context(output_slice=slice(None, None, -1))
    expect_error(lambda: ctx.apply_output_slice(h), modctx.SliceError, modctx.Status.SLICE,
                 "step must be greater than zero")
    ctx = lib.context(output_slice=slice(None, None, 0))
    expect_error(lambda: ctx.apply_output_slice(h), modctx.SliceError, modctx.Status.SLICE, "slice step cannot be zero")
    ctx = lib.context(output_slice=slice(1, None))
    expect_error(lambda: ctx.apply_output_slice(f32(2, 10)), modctx.ForwardError, modctx.Status.SHAPE,
                 "too many indices for tensor of dimension 2")
    del out
    expect(released_everything(), "released on every path")


def test_slice_indices():
    values = [None] + list(range(-7, 8))
    for start in values:
        for stop in values:
            for step in (None, 1, 2, -1, -3):
                for n in range(6):
                    s = slice(start, stop, step)
                    want = s.indices(n) + (len(range(*s.indices(n))),)
                    if lib.slice_indices(s, n) != want:
                        expect(False, "%s.indices(%d)" % (s, n))
                        return
    expect(True, "slice grid")
    expect_error(lambda: lib.slice_indices(slice(None, None, 0), 3), modctx.SliceError, modctx.Status.SLICE,
                 "slice step cannot be zero")
    expect_error(lambda: lib.slice_indices(slice(None), -1), modctx.SliceError, modctx.Status.SLICE,
                 "length should not be negative")


def test_models_and_strategies():
    B, N, T, D = 2, 4, 3, 8
    img = f32(B, N, D)
    frames = torch.tensor([[True, False], [True, True]])
    tokens = torch.zeros(B, T, dtype=torch.long)
    ctx = lib.compose("mot", img, tokens, frames)
    ctx.check(modctx.Model("mot", D), tokens=tokens, value_checks=modctx.MODALITY_ID_VALUES)
    expect(ctx.modality_ids.tolist() == [[0] * N + [1] * T] * B, "modality_ids")
    want_kpm = torch.cat([frames.repeat_interleave(N // 2, dim=1), torch.ones(B, T, dtype=torch.bool)], dim=1)
    expect(torch.equal(ctx.key_padding_mask, want_kpm), "key_padding_mask")
    expect(ctx.output_slice == slice(N, None, None), "output slice")
    expect(ctx.residual_length(T) == N + T, "residual length")
    text = f32(B, T, D).to(torch.bfloat16)
    expect(torch.equal(ctx.compose_residual(text), torch.cat([img.to(torch.bfloat16), text], dim=1)), "residual")
    expect_error(lambda: ctx.check(modctx.Model("joint_decoder", D), tokens=tokens), modctx.ForwardError,
                 modctx.Status.UNUSED_FIELD, "modality.modality_ids is not used by a joint_decoder model")
    expect_error(lambda: ctx.check(modctx.Model("mot", D), tokens=(B, T + 1)), modctx.ForwardError,
                 modctx.Status.SHAPE, "modality.modality_ids shape (2, 7) does not match residual shape (2, 8)")
    expect_error(lambda: lib.check(None, modctx.Model("cross_attention", D), tokens=tokens), modctx.ForwardError,
                 modctx.Status.MISSING_FIELD, "Cross-Attention block fired but modality.image_features is None. "
                 "Cross-Attention models require image_features in the ModalityContext.")
    bad = ctx.replace(modality_ids=torch.full((B, N + T), 5, dtype=torch.long))
    expect_error(lambda: bad.check(modctx.Model("mot", D), tokens=tokens, value_checks=modctx.MODALITY_ID_VALUES),
                 modctx.ForwardError, modctx.Status.VALUE)
    expect_error(lambda: lib.compose("cross_attention", img, tokens, torch.ones(B, 3, dtype=torch.bool)),
                 modctx.ForwardError, modctx.Status.SHAPE,
                 "_visual_token_mask: num_visual_tokens (4) is not a multiple of num_frames (3); the per-frame "
                 "expansion assumes frame-contiguous visual tokens.")
    expect_error(lambda: lib.compose("text", img, tokens), modctx.ArgumentError, modctx.Status.INVALID_ARGUMENT)
    expect_error(lambda: lib.compose("mot", img, (B,)), modctx.ForwardError, modctx.Status.SHAPE,
                 "input_ids must have shape (B, T), got (2,)")
    expect_error(lambda: lib.check(None, modctx.Model("text", 0), tokens=tokens), modctx.ArgumentError,
                 modctx.Status.INVALID_ARGUMENT, "model: hidden_size must be > 0, got 0")
    ctx = bad = None
    expect(released_everything(), "released")


def test_threads_share_a_context():
    ctx = lib.context(prefix_embeds=f32(2, 4, 8), modality_ids=torch.zeros(2, 12, dtype=torch.int32),
                      output_slice=slice(4, None))
    errors = []

    def worker(i):
        try:
            for r in range(100):
                if (i + r) % 2:
                    try:
                        ctx.check_forward(tokens=True, kv_caches=True)
                        errors.append("no error")
                    except modctx.ForwardError as e:
                        if e.status != modctx.Status.KV_CACHE or not str(e).startswith("modality.output_slice"):
                            errors.append(str(e))
                else:
                    try:
                        ctx.check_forward(tokens=True)
                        errors.append("no error")
                    except modctx.ForwardError as e:
                        if str(e) != "modality.modality_ids.dtype must be torch.long, got torch.int32":
                            errors.append(str(e))
                if ctx.prefix_embeds.shape != (2, 4, 8):
                    errors.append("shape")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expect(errors == [], "threads: %s" % errors[:3])
    # The last reference released on another thread runs the deleters there.
    other = ctx.retain()
    ctx.close()
    t = threading.Thread(target=other.close)
    t.start()
    t.join()
    expect(released_everything(), "released on another thread")


def test_garbage_collected_contexts_release():
    def scope():
        ctx = lib.context(inputs_embeds=f32(1, 2, 3))
        return ctx.describe()
    scope()
    expect(released_everything(), "released by __del__")


# ---------------------------------------------------------------- ABI version 2: requests, configs, classes

MOT_CONFIG = """
[model]
dim = 64
n_layers = 4
n_heads = 4
n_kv_heads = 4
vocab_size = 1000
max_seq_len = 80

[vision_encoder]
type = "random"
feature_dim = 32
num_tokens = 16

[vlm]
arch = "mot"
max_text_len = 64

[train]
mixed_precision = "bf16"
"""


def test_status_classes():
    request = {"ROUTES", "IMAGE_MASK", "MODALITY_IDS", "KEY_PADDING_MASK", "FORWARD_INPUTS", "KV_CACHE", "DTYPE",
               "SHAPE", "DEVICE", "MISSING_FIELD", "SLICE", "UNUSED_FIELD", "VALUE", "FORMAT", "LENGTH"}
    for s in modctx.Status:
        want = (modctx.StatusClass.OK if s == modctx.Status.OK else
                modctx.StatusClass.REQUEST if s.name in request else modctx.StatusClass.SERVER)
        expect(lib.status_class(s) == want, "class of %s: %s" % (s.name, lib.status_class(s)))
    expect(len(modctx.Status) == 21, "21 statuses")
    expect(lib.status_class(999) == modctx.StatusClass.SERVER, "unknown statuses are the server's")
    expect(lib.status_name(modctx.Status.LENGTH) == "MODCTX_ERR_LENGTH", "LENGTH's name")
    e = expect_error(lambda: lib.context(image_mask=mask(2, 4)), modctx.ContextError, modctx.Status.IMAGE_MASK)
    expect(e is not None and e.status_class == modctx.StatusClass.REQUEST, "an error carries its class")
    e = expect_error(lambda: lib.check(None, modctx.Model("text", 0), tokens=(2, 3)), modctx.ArgumentError,
                     modctx.Status.INVALID_ARGUMENT)
    expect(e is not None and e.status_class == modctx.StatusClass.SERVER, "the server's")


def test_requests():
    m = modctx.Model("text", 8, vocab_size=100, max_seq_len=16)
    lib.check_request(None, m, tokens=(2, 16))
    e = expect_error(lambda: lib.check_request(None, m, tokens=(2, 17)), modctx.ForwardError, modctx.Status.LENGTH,
                     "sequence of 17 positions exceeds the model's max_seq_len 16 (the length of its RoPE table)")
    expect(e is not None and e.status_class == modctx.StatusClass.REQUEST, "LENGTH is the request's")
    # The caches' fill, room and batch.
    state = {"seq_len": 4, "capacity": 64, "batch": 2}
    lib.check_request(None, m, tokens=(2, 12), kv_caches=state)
    expect_error(lambda: lib.check_request(None, m, tokens=(2, 13), kv_caches=state), modctx.ForwardError,
                 modctx.Status.LENGTH)
    small = {"seq_len": 4, "capacity": 10, "batch": 2}
    lib.check_request(None, m, tokens=(2, 6), kv_caches=small)
    expect_error(lambda: lib.check_request(None, m, tokens=(2, 7), kv_caches=small), modctx.ForwardError,
                 modctx.Status.KV_CACHE, "kv_caches hold 4 of 10 positions; 7 new positions do not fit")
    expect_error(lambda: lib.check_request(None, m, tokens=(3, 1), kv_caches=small), modctx.ForwardError,
                 modctx.Status.KV_CACHE, "kv_caches have batch size 2, but tokens has batch size 3")
    expect_error(lambda: lib.check_request(None, m, tokens=(2, 1), kv_caches={"seq_len": 11, "capacity": 10,
                                                                              "batch": 2}),
                 modctx.ArgumentError, modctx.Status.INVALID_ARGUMENT)
    lib.check_request(None, m, tokens=(2, 1), kv_caches=[object()])  # caches given, state unknown
    # Token ids: dtype, values at vocab_size - 1 and vocab_size.
    ids = torch.tensor([[0, 99, 5], [1, 2, 3]])
    lib.check_request(None, m, tokens=ids, value_checks=modctx.TOKEN_ID_VALUES)
    lib.check_request(None, m, tokens=ids.to(torch.int32), value_checks=modctx.TOKEN_ID_VALUES)
    over = ids.clone()
    over[1, 2] = 100
    lib.check_request(None, m, tokens=over)  # values not read unless asked
    expect_error(lambda: lib.check_request(None, m, tokens=over, value_checks=modctx.TOKEN_ID_VALUES),
                 modctx.ForwardError, modctx.Status.VALUE,
                 "tokens values must be in [0, 100) (the model's vocab_size), found 100")
    # A strided view: only its elements are read.
    wide = torch.tensor([[1, 500, 2, 500], [3, 500, 4, 500]])
    lib.check_request(None, m, tokens=wide[:, ::2], value_checks=modctx.TOKEN_ID_VALUES)
    expect_error(lambda: lib.check_request(None, m, tokens=wide[:, 1::2], value_checks=modctx.TOKEN_ID_VALUES),
                 modctx.ForwardError, modctx.Status.VALUE)
    expect_error(lambda: lib.check_request(None, m, tokens=(2, 3), value_checks=modctx.TOKEN_ID_VALUES),
                 modctx.UnsupportedError, modctx.Status.UNSUPPORTED)
    expect_error(lambda: lib.check_request(None, m, tokens=ids.float()), modctx.ForwardError, modctx.Status.DTYPE,
                 "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got torch.float32")
    # doc_ids over the residual, not with KV caches, on the same device.
    docs = torch.zeros(2, 3, dtype=torch.long)
    lib.check_request(None, m, tokens=ids, doc_ids=docs)
    expect_error(lambda: lib.check_request(None, m, tokens=ids, doc_ids=torch.zeros(2, 4, dtype=torch.long)),
                 modctx.ForwardError, modctx.Status.SHAPE, "doc_ids shape (2, 4) does not match residual shape (2, 3)")
    expect_error(lambda: lib.check_request(None, m, tokens=ids, doc_ids=docs, kv_caches=True), modctx.ForwardError,
                 modctx.Status.KV_CACHE, "doc_ids / key_padding_mask are not supported with kv_cache decode "
                 "(would build an incorrect causal mask).")
    expect_error(lambda: lib.check_request(None, m, tokens=ids, doc_ids=modctx.described_as(docs, "cuda:0")),
                 modctx.ForwardError, modctx.Status.DEVICE, "doc_ids is on cuda:0, but tokens is on cpu")
    # With a context: MoT counts each modality from 0; doc_ids unused there.
    ctx = lib.compose("mot", f32(2, 4, 2), (2, 3))
    mot = modctx.Model("mot", 2, num_image_tokens=4, max_seq_len=4)
    ctx.check_request(mot, tokens=(2, 3), value_checks=modctx.MODALITY_ID_VALUES)
    expect_error(lambda: ctx.check_request(modctx.Model("mot", 2, num_image_tokens=4, max_seq_len=3), tokens=(2, 3)),
                 modctx.ForwardError, modctx.Status.LENGTH)
    expect_error(lambda: ctx.check_request(mot, tokens=(2, 3), doc_ids=torch.zeros(2, 7, dtype=torch.long)),
                 modctx.ForwardError, modctx.Status.UNUSED_FIELD, "doc_ids is not used by a mot model")
    ctx.check_request(modctx.Model("mot", 2, modalities=("image", "text")), tokens=(2, 3))
    expect_error(lambda: ctx.check_request(modctx.Model("mot", 2, modalities=("image", "video")), tokens=(2, 3)),
                 modctx.ForwardError, modctx.Status.SHAPE)
    expect_error(lambda: ctx.check_request(modctx.Model("mot", 2, modalities=("a,b",)), tokens=(2, 3)),
                 modctx.ArgumentError, modctx.Status.INVALID_ARGUMENT)
    # Cross-Attention: with no block firing, image_features is not required.
    expect_error(lambda: lib.check_request(None, modctx.Model("cross_attention", 8), tokens=(2, 3)),
                 modctx.ForwardError, modctx.Status.MISSING_FIELD)
    lib.check_request(None, modctx.Model("cross_attention", 8, cross_attention_blocks=0), tokens=(2, 3))
    # Borrowed: nothing handed to modctx to keep, nothing written.
    before = modctx.export_stats()["exported"]
    lib.check_request(None, m, tokens=ids, doc_ids=docs, value_checks=modctx.TOKEN_ID_VALUES)
    expect(modctx.export_stats()["exported"] == before and ids[0, 1] == 99, "borrowed, not exported")
    expect_error(lambda: lib.check_request(None, m, tokens=ids, value_checks=4), modctx.ArgumentError,
                 modctx.Status.INVALID_ARGUMENT, "modctx_check_request: unknown value_checks bits 0x4")
    ctx.close()
    expect(released_everything(), "released")


def test_models_from_configs():
    import tempfile
    m = lib.model_from_config_string(MOT_CONFIG)
    want = modctx.Model("mot", 64, num_modalities=2, num_image_tokens=16, text_dtype="bfloat16", vocab_size=1000,
                        max_seq_len=80, modalities=("image", "text"))
    expect(m == want, "MoT config: %r" % (m,))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "train.toml")
        with open(path, "w") as f:
            f.write(MOT_CONFIG)
        expect(modctx.Model.from_config(path, lib) == want, "from a file")
        expect(modctx.Model.from_config_string(MOT_CONFIG.encode(), lib) == want, "from bytes")
    # Through the C struct and back.
    expect(modctx.Model._of(m._struct()) == m, "struct round trip")
    text = lib.model_from_config_string("[model]\ndim = 32\nn_heads = 4\nn_kv_heads = 4\nvocab_size = 100\nmax_seq_len = 16\n")
    expect(text == modctx.Model("text", 32, num_modalities=2, text_dtype="bfloat16", vocab_size=100, max_seq_len=16),
           "text: %r" % (text,))
    lib.check_request(None, text, tokens=(1, 16))
    expect_error(lambda: lib.check_request(None, text, tokens=(1, 17)), modctx.ForwardError, modctx.Status.LENGTH)
    e = expect_error(lambda: lib.model_from_config_string('[model]\ndim = "big"\n'), modctx.FormatError,
                     modctx.Status.FORMAT)
    expect(e is not None and "model.dim" in str(e) and e.status_class == modctx.StatusClass.REQUEST, str(e))
    e = expect_error(lambda: lib.model_from_config("/nonexistent/modctx/train.toml"), modctx.FormatError,
                     modctx.Status.IO)
    expect(e is not None and e.status_class == modctx.StatusClass.SERVER, "IO is the server's")


def main():
    tests = [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("test_") and callable(fn)]
    global failed
    for name, fn in tests:
        try:
            fn()
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAILED %s: unexpected exception" % name)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
