#!/usr/bin/python3
"""modctx from Python with ctypes and PyTorch: a MoT context composed from an
image batch, checked against a model, read back without copies, and the
reference's errors as Python exceptions.

    meson setup build && ninja -C build
    /usr/bin/python3 examples/python/example.py            # finds build/capi/libmodctx.so.1
    MODCTX_LIBRARY=/usr/local/lib/x86_64-linux-gnu/libmodctx.so.1 /usr/bin/python3 examples/python/example.py
    /usr/bin/python3 examples/python/example.py path/to/libmodctx.so.1

(/usr/bin/python3: Debian's python3-torch installs for that interpreter.)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
import modctx  # noqa: E402  (bindings/python/modctx)


def library_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    if os.environ.get("MODCTX_LIBRARY"):
        return os.environ["MODCTX_LIBRARY"]
    in_tree = os.path.join(HERE, "..", "..", "build", "capi", "libmodctx.so.1")
    return in_tree if os.path.exists(in_tree) else None  # None: libmodctx.so.1 from the loader's path


def main():
    lib = modctx.load(library_path())
    print("modctx", lib.version)

    # A batch of 2: 4 image tokens (two frames of 2 tokens each) and 3 text tokens, hidden size 8.
    B, N, T, D = 2, 4, 3, 8
    image_embeds = torch.randn(B, N, D)
    frame_mask = torch.tensor([[True, False], [True, True]])  # the first sample's second frame is padding
    tokens = torch.zeros(B, T, dtype=torch.long)

    # The reference's MoT strategy: prefix_embeds, output_slice, key_padding_mask, modality_ids.
    ctx = lib.compose("mot", image_embeds, tokens, frame_mask)
    print(ctx)
    ctx.check_forward(tokens=tokens)  # the top of Transformer.forward
    ctx.check(modctx.Model("mot", hidden_size=D), tokens=tokens, value_checks=modctx.MODALITY_ID_VALUES)
    print("modality_ids:", ctx.modality_ids.tolist())
    print("key_padding_mask:", ctx.key_padding_mask.int().tolist())
    print("prefix_embeds shares memory with image_embeds:", ctx.prefix_embeds.data_ptr() == image_embeds.data_ptr())

    # Later in the forward: the residual stream, and the slice before the LM head.
    text_embeds = torch.randn(B, T, D)
    h = ctx.compose_residual(text_embeds)
    assert torch.equal(h, torch.cat([image_embeds, text_embeds], dim=1))
    print("h[:, output_slice, :]:", tuple(ctx.apply_output_slice(h).shape))

    # The reference's errors, with its exact messages, as ValueError subclasses.
    try:
        lib.context(image_mask=torch.ones(B, N, dtype=torch.bool))
    except modctx.ContextError as e:
        print("%s: %s" % (e.status_name, e))
    try:
        ctx.replace(modality_ids=ctx.modality_ids.int()).check_forward(tokens=tokens)
    except ValueError as e:  # a modctx.ForwardError
        print("%s: %s" % (e.status_name, e))
    try:
        ctx.check_forward(tokens=tokens, kv_caches=[])
    except modctx.ForwardError as e:
        print("%s: %s" % (e.status_name, e))

    ctx.close()
    print("tensors modctx still holds:", modctx.live_exports())


if __name__ == "__main__":
    main()
