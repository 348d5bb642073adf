"""Runs the `modctx` checker on every bundled example and on malformed input,
checking exit status, standard output and the error text.

usage: cli_test.py MODCTX EXAMPLES_DIR
"""
import concurrent.futures
import json
import os
import subprocess
import sys

MODCTX, EXAMPLES = sys.argv[1], sys.argv[2]

ROUTES = ("ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
          "(mutually exclusive residual-stream routes)")

# Every bundled example: (exit status, exact standard output).
EXPECTED = {
    "text_only.json": (0, "OK\nModalityContext()\n"),
    "pipeline_middle_stage.json": (
        0, "OK\nModalityContext(inputs_embeds=Tensor[2, 600, 4096] bfloat16 cuda:0)\n"),
    "joint_decoder.json": (
        0, "OK\nModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0, "
           "output_slice=slice(576, None, None), key_padding_mask=Tensor[2, 600] bool cuda:0)\n"),
    "cross_attention.json": (
        0, "OK\nModalityContext(image_features=Tensor[2, 576, 4096] bfloat16 cuda:0, "
           "image_mask=Tensor[2, 576] bool cuda:0)\n"),
    "mot.json": (
        0, "OK\nModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0, "
           "output_slice=slice(576, None, None), modality_ids=Tensor[2, 600] int64 cuda:0)\n"),
    "decode_step.json": (
        0, "OK\nModalityContext(inputs_embeds=Tensor[1, 1, 4096] float16 cuda:1, "
           "key_padding_mask=Tensor[1, 1] bool cuda:1)\n"),
    "invalid_routes.json": (1, "MODCTX_ERR_ROUTES\n" + ROUTES + "\n"),
    "invalid_image_mask.json": (
        1, "MODCTX_ERR_IMAGE_MASK\nModalityContext: image_mask requires image_features to be set\n"),
    "invalid_modality_ids.json": (
        1, "MODCTX_ERR_MODALITY_IDS\nModalityContext: modality_ids requires prefix_embeds OR inputs_embeds "
           "to be set (routing without a residual extension is meaningless)\n"),
    "invalid_key_padding_mask.json": (
        1, "MODCTX_ERR_KEY_PADDING_MASK\nModalityContext: key_padding_mask requires prefix_embeds OR "
           "inputs_embeds to be set (it masks the residual sequence; Cross-Attention uses image_mask)\n"),
    "invalid_forward_inputs.json": (
        1, "MODCTX_ERR_FORWARD_INPUTS\nTransformer.forward requires exactly one of tokens or "
           "modality.inputs_embeds\n"),
    "invalid_kv_output_slice.json": (
        1, "MODCTX_ERR_KV_CACHE\nmodality.output_slice is training-only; cannot be combined with kv_caches\n"),
    "invalid_kv_prefix_embeds.json": (
        1, "MODCTX_ERR_KV_CACHE\nmodality.prefix_embeds is training-only; cannot be combined with kv_caches\n"),
    "invalid_kv_image_features.json": (
        1, "MODCTX_ERR_KV_CACHE\nmodality.image_features is training-only; cannot be combined with kv_caches\n"),
    "invalid_kv_modality_ids.json": (
        1, "MODCTX_ERR_KV_CACHE\nmodality.modality_ids is training-only; cannot be combined with kv_caches\n"),
    "mot_with_model.json": (
        0, "OK\nModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0, "
           "output_slice=slice(576, None, None), modality_ids=Tensor[2, 600] int64 cuda:0, "
           "key_padding_mask=Tensor[2, 600] bool cuda:0)\n"),
    "invalid_model_mot_without_modality_ids.json": (
        1, "MODCTX_ERR_MISSING_FIELD\nMoT model requires modality.modality_ids (got None). Build the "
           "ModalityContext via MoTStrategy or set modality_ids explicitly.\n"),
    "invalid_model_image_mask_shape.json": (
        1, "MODCTX_ERR_SHAPE\nmodality.image_mask shape (2, 5) does not match image_features tokens (2, 4)\n"),
    "invalid_model_unused_field.json": (
        1, "MODCTX_ERR_UNUSED_FIELD\nmodality.modality_ids is not used by a joint_decoder model\n"),
    "mot_request.json": (
        0, "OK\nModalityContext(prefix_embeds=Tensor[2, 64, 256] bfloat16 cpu, output_slice=slice(64, None, None), "
           "modality_ids=Tensor[2, 72] int64 cpu)\n"),
    "invalid_modality_ids_dtype.json": (
        1, "MODCTX_ERR_DTYPE\nmodality.modality_ids.dtype must be torch.long, got torch.int32\n"),
}


def _values(shape, dtype, values, device=None):
    """A document whose modality_ids are given with values (of any dtype: the reader's rules come first)."""
    tensor = {"shape": shape, "dtype": dtype, "values": values}
    if device:
        tensor["device"] = device
    return json.dumps({"fields": {"modality_ids": tensor}})


# Unusable documents: (JSON text, substring the error must contain). All exit 2.
MALFORMED = [
    ("", "malformed JSON"),
    ("{", "malformed JSON"),
    ("[]", "expected an object, found an array"),
    ("null", "expected an object, found null"),
    ('{"feilds": {}}', '/feilds: unknown key "feilds"'),
    ('{"fields": []}', "/fields: expected an object, found an array"),
    ('{"fields": {"prefix": {}}}', '/fields/prefix: unknown field "prefix"'),
    ('{"fields": {"prefix_embeds": 3}}', "/fields/prefix_embeds: expected an object, found an integer"),
    ('{"fields": {"prefix_embeds": {"dtype": "float32"}}}', '/fields/prefix_embeds/shape: missing key "shape"'),
    ('{"fields": {"prefix_embeds": {"shape": [1]}}}', '/fields/prefix_embeds/dtype: missing key "dtype"'),
    ('{"fields": {"prefix_embeds": {"shape": [1, -2], "dtype": "float32"}}}',
     "/fields/prefix_embeds/shape/1: expected a size (an integer >= 0), found -2"),
    ('{"fields": {"prefix_embeds": {"shape": [1.5], "dtype": "float32"}}}',
     "/fields/prefix_embeds/shape/0: expected a size"),
    ('{"fields": {"prefix_embeds": {"shape": "1,2", "dtype": "float32"}}}',
     "/fields/prefix_embeds/shape: expected a shape"),
    ('{"fields": {"prefix_embeds": {"shape": [4294967296, 4294967296], "dtype": "float32"}}}',
     "/fields/prefix_embeds/shape: the shape has more elements than a tensor can hold"),
    ('{"fields": {"prefix_embeds": {"shape": [0, 4294967296, 4294967296], "dtype": "float32"}}}',
     "/fields/prefix_embeds/shape: the shape has more elements than a tensor can hold"),
    ('{"fields": {"prefix_embeds": {"shape": [18446744073709551615], "dtype": "float32"}}}',
     "/fields/prefix_embeds/shape/0: expected a size"),
    ('{"fields": {"prefix_embeds": {"shape": [1], "dtype": "floot32"}}}',
     '/fields/prefix_embeds/dtype: unknown dtype "floot32"'),
    ('{"fields": {"prefix_embeds": {"shape": [1], "dtype": 7}}}', "/fields/prefix_embeds/dtype: unknown dtype 7"),
    ('{"fields": {"prefix_embeds": {"shape": [1], "dtype": "float32", "device": "gpu:0"}}}',
     '/fields/prefix_embeds/device: unknown device "gpu:0"'),
    ('{"fields": {"prefix_embeds": {"shape": [1], "dtype": "float32", "device": 0}}}',
     "/fields/prefix_embeds/device: expected a device name"),
    ('{"fields": {"prefix_embeds": {"shape": [1], "dtype": "float32", "strides": [1]}}}',
     '/fields/prefix_embeds/strides: unknown key "strides"'),
    ('{"output_slice": [1, 2]}', "/output_slice: expected [start, stop, step]"),
    ('{"output_slice": "1:"}', "/output_slice: expected [start, stop, step]"),
    ('{"output_slice": [1, "x", null]}', "/output_slice/1: expected an integer"),
    ('{"output_slice": [9223372036854775808, null, null]}', "/output_slice/0: expected an integer"),
    ('{"output_slice": [1e400, null, null]}', "malformed JSON: number overflow"),
    ('{"forward": {"tokens": [2, 24], "kv_cache": true}}', '/forward/kv_cache: unknown key "kv_cache"'),
    ('{"forward": {"tokens": [2, 24], "kv_caches": 1}}',
     '/forward/kv_caches: expected true, false or {"seq_len", "capacity", "batch"}, found 1'),
    ('{"forward": {"tokens": 5}}', "/forward/tokens: expected a shape"),
    ('{"forward": []}', "/forward: expected an object"),
    ('{"fields": {"a/b~c": null}}', '/fields/a~1b~0c: unknown field "a/b~c"'),
    ('{"model": {"arch": "mot", "hidden_size": 8}}', '/forward: a "model" check needs the "forward" arguments'),
    ('{"forward": {}, "model": {"arch": "vit", "hidden_size": 8}}', '/model/arch: unknown architecture "vit"'),
    ('{"forward": {}, "model": {"hidden_size": 8}}', '/model/arch: missing key "arch"'),
    ('{"forward": {}, "model": {"arch": "mot"}}', '/model/hidden_size: missing key "hidden_size"'),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 0}}', "/model/hidden_size: expected an integer > 0"),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "num_modalities": -1}}',
     "/model/num_modalities: expected an integer > 0"),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "num_image_tokens": -1}}',
     "/model/num_image_tokens: expected an integer >= 0"),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "text_dtype": "int32"}}',
     "/model/text_dtype: expected a floating point dtype"),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "layers": 2}}', '/model/layers: unknown key "layers"'),
] + [
    # Tensors with "values" (issue 17): nested lists matching the shape exactly, typed by the dtype.
    (_values(shape, dtype, values, **extra), needle) for shape, dtype, values, extra, needle in (
        ([3, 1], "int64", [0, 1, 1], {},
         "/fields/modality_ids/values/0: expected an array of size 1 (dimension 1 of shape [3, 1]), found 0"),
        ([1, 3], "int64", [[0, 1]], {}, "/fields/modality_ids/values/0: expected an array of size 3 (dimension 1 of "
                                        "shape [1, 3]), found an array of size 2"),
        ([2, 3], "int64", [[0, 1, 1]], {}, "/fields/modality_ids/values: expected an array of size 2 (dimension 0 of "
                                           "shape [2, 3]), found an array of size 1"),
        ([2, 3], "int64", None, {}, "/fields/modality_ids/values: expected an array of size 2 (dimension 0 of shape "
                                    "[2, 3]), found null"),
        ([1, 3], "int64", [[0, [1], 1]], {}, "/fields/modality_ids/values/0/1: expected an integer in "
                                             "[-9223372036854775808, 9223372036854775807] (int64), found an array"),
        ([1, 3], "int64", [[0, 1, 1.5]], {}, "/fields/modality_ids/values/0/2: expected an integer in "
                                             "[-9223372036854775808, 9223372036854775807] (int64), found 1.5"),
        ([1, 3], "int64", [[0, 1.0, 1]], {}, "/fields/modality_ids/values/0/1: expected an integer in "
                                             "[-9223372036854775808, 9223372036854775807] (int64), found 1.0"),
        ([1, 3], "int64", [[0, 9223372036854775808, 1]], {}, "(int64), found 9223372036854775808"),
        ([1, 3], "int32", [[True, 1, 1]], {}, "/fields/modality_ids/values/0/0: expected an integer in "
                                              "[-2147483648, 2147483647] (int32), found true"),
        ([1, 3], "int32", [[0, 2147483648, 1]], {}, "(int32), found 2147483648"),
        ([1, 3], "int16", [[0, -32769, 1]], {}, "expected an integer in [-32768, 32767] (int16), found -32769"),
        ([1, 3], "int8", [[0, -129, 1]], {}, "/fields/modality_ids/values/0/1: expected an integer in [-128, 127] "
                                             "(int8), found -129"),
        ([1, 3], "uint8", [[0, 256, 1]], {}, "expected an integer in [0, 255] (uint8), found 256"),
        ([1, 3], "uint8", [[0, -1, 1]], {}, "expected an integer in [0, 255] (uint8), found -1"),
        ([1, 3], "int64", [[0, "1", 1]], {}, '(int64), found "1"'),
        ([1, 3], "bool", [[True, 1, False]], {}, "/fields/modality_ids/values/0/1: expected true or false (bool), "
                                                 "found 1"),
        ([1, 3], "float16", [[0.5, 70000, 1]], {}, "/fields/modality_ids/values/0/1: expected a number within "
                                                   "float16's range, found 70000"),
        ([1, 3], "float16", [[0.5, 65520, 1]], {}, "float16's range, found 65520"),  # rounds to infinity
        ([1, 3], "bfloat16", [[0.5, 1e39, 1]], {}, "expected a number within bfloat16's range, found 1e+39"),
        ([1, 3], "float32", [[0.5, -1e39, 1]], {}, "expected a number within float32's range, found -1e+39"),
        ([1, 3], "float64", [[0.5, False, 1]], {}, "expected a number within float64's range, found false"),
        ([1, 3], "complex64", [[0, 0, 0]], {}, "/fields/modality_ids/values: values are not read for complex64 tensors"),
        ([1, 3], "int64", [[0, 0, 1]], {"device": "cuda:0"},
         '/fields/modality_ids/values: a tensor given with values is on the CPU, but its device is "cuda:0"'),
        # the element count is bounded before anything is allocated or walked
        ([16777217], "bool", [], {}, "/fields/modality_ids/values: a tensor given with values has at most 16777216 "
                                     "elements; shape [16777217] has 16777217"),
        ([4096, 4096, 2], "bool", [], {}, "has at most 16777216 elements; shape [4096, 4096, 2] has 33554432"),
        ([], "int64", [3], {}, "/fields/modality_ids/values: expected an integer in [-9223372036854775808, "
                               "9223372036854775807] (int64), found an array"),
        ([0, 3], "int64", [[]], {}, "/fields/modality_ids/values: expected an array of size 0 (dimension 0 of shape "
                                   "[0, 3]), found an array of size 1"),
    )
] + [
    # The forward arguments (issue 17): token ids and doc_ids as tensors, the KV caches' state.
    ('{"forward": {"tokens": "2,24"}}', '/forward/tokens: expected a shape (an array of sizes), a tensor '
                                        '({"shape", "dtype", ...}) or null, found a string'),
    ('{"forward": {"tokens": true}}', "/forward/tokens: expected a shape (an array of sizes), a tensor"),
    ('{"forward": {"tokens": {"shape": [1, 2]}}}', '/forward/tokens/dtype: missing key "dtype"'),
    ('{"forward": {"tokens": {"dtype": "int64"}}}', '/forward/tokens/shape: missing key "shape"'),
    ('{"forward": {"tokens": {"shape": [1, 2], "dtype": "int64", "value": [[1, 2]]}}}',
     '/forward/tokens/value: unknown key "value"'),
    ('{"forward": {"tokens": {"shape": [1, 2], "dtype": "int64", "values": [[1, -1.5]]}}}',
     "/forward/tokens/values/0/1: expected an integer in [-9223372036854775808, 9223372036854775807] (int64), "
     "found -1.5"),
    ('{"forward": {"tokens": {"shape": [1, 2], "dtype": "int64", "values": [[1, 2, 3]]}}}',
     "/forward/tokens/values/0: expected an array of size 2 (dimension 1 of shape [1, 2]), found an array of size 3"),
    ('{"forward": {"tokens": {"shape": [1, 2], "dtype": "int64", "device": "cuda:1", "values": [[1, 2]]}}}',
     '/forward/tokens/values: a tensor given with values is on the CPU, but its device is "cuda:1"'),
    ('{"forward": {"tokens": {"shape": [1, 2], "dtype": "int65"}}}', '/forward/tokens/dtype: unknown dtype "int65"'),
    ('{"forward": {"doc_ids": [1, 5]}}', "/forward/doc_ids: expected an object, found an array"),
    ('{"forward": {"doc_ids": {"shape": [1, 5], "dtype": "int64", "values": [[0, 0, 1]]}}}',
     "/forward/doc_ids/values/0: expected an array of size 5 (dimension 1 of shape [1, 5]), found an array of size 3"),
    ('{"forward": {"doc_ids": {"shape": [1, -5], "dtype": "int64"}}}',
     "/forward/doc_ids/shape/1: expected a size (an integer >= 0), found -5"),
    ('{"forward": {"kv_caches": "yes"}}',
     '/forward/kv_caches: expected true, false or {"seq_len", "capacity", "batch"}, found "yes"'),
    ('{"forward": {"kv_caches": [37, 1024, 2]}}',
     '/forward/kv_caches: expected true, false or {"seq_len", "capacity", "batch"}, found an array'),
    ('{"forward": {"kv_caches": {"seq_len": 1, "capacity": 8}}}', '/forward/kv_caches/batch: missing key "batch"'),
    ('{"forward": {"kv_caches": {"capacity": 8, "batch": 1}}}', '/forward/kv_caches/seq_len: missing key "seq_len"'),
    ('{"forward": {"kv_caches": {"seq_len": -1, "capacity": 8, "batch": 1}}}',
     "/forward/kv_caches/seq_len: expected an integer >= 0, found -1"),
    ('{"forward": {"kv_caches": {"seq_len": 1, "capacity": 8.5, "batch": 1}}}',
     "/forward/kv_caches/capacity: expected an integer >= 0, found 8.5"),
    ('{"forward": {"kv_caches": {"seq_len": 1, "capacity": 8, "batch": 9223372036854775808}}}',
     "/forward/kv_caches/batch: expected an integer >= 0, found 9223372036854775808"),
    ('{"forward": {"kv_caches": {"seq_len": 1, "capacity": 8, "batch": 1, "fill": 1}}}',
     '/forward/kv_caches/fill: unknown key "fill" (expected one of: seq_len, capacity, batch)'),
    ('{"forward": {"tokens": [1, 2], "doc_id": null}}', '/forward/doc_id: unknown key "doc_id" (expected one of: '
                                                        'tokens, doc_ids, kv_caches)'),
    # The model's new keys (issue 17).
    ('{"forward": {}, "model": {"arch": "text", "hidden_size": 8, "vocab_size": 0}}',
     "/model/vocab_size: expected an integer > 0, found 0"),
    ('{"forward": {}, "model": {"arch": "text", "hidden_size": 8, "max_seq_len": "576"}}',
     '/model/max_seq_len: expected an integer > 0, found "576"'),
    ('{"forward": {}, "model": {"arch": "cross_attention", "hidden_size": 8, "cross_attention_blocks": -1}}',
     "/model/cross_attention_blocks: expected an integer >= 0, found -1"),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "modalities": "image,text"}}',
     '/model/modalities: expected the modality names in order, such as ["image", "text"], found "image,text"'),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "modalities": []}}',
     '/model/modalities: expected the modality names in order, such as ["image", "text"], found an array'),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "modalities": ["image", 3]}}',
     "/model/modalities/1: expected a modality name (a non-empty string), found 3"),
    ('{"forward": {}, "model": {"arch": "mot", "hidden_size": 8, "modalities": ["image", ""]}}',
     '/model/modalities/1: expected a modality name (a non-empty string), found ""'),
    ('{"forward": {}, "model": {"arch": "moma", "hidden_size": 8, "modalities": ["image", "image"]}}',
     '/model/modalities/1: modality "image" named twice'),
    ('{"forward": {}, "model": {"arch": "moma", "hidden_size": 8, "num_modalities": 2, '
     '"modalities": ["image", "text", "audio"]}}', "/model/modalities: 3 names, but num_modalities is 2"),
]

# Valid documents beyond the examples: (JSON text, exit status, exact standard output).
ACCEPTED = [
    ("{}", 0, "OK\nModalityContext()\n"),
    ('{"fields": {"prefix_embeds": null}, "output_slice": null, "forward": null}', 0, "OK\nModalityContext()\n"),
    ('{"fields": {"inputs_embeds": {"shape": [1, 2, 3], "dtype": "half", "device": "cuda"}},'
     ' "output_slice": [null, -1, 2]}', 0,
     "OK\nModalityContext(inputs_embeds=Tensor[1, 2, 3] float16 cuda:0, output_slice=slice(None, -1, 2))\n"),
    ('{"fields": {"inputs_embeds": {"shape": [], "dtype": "long", "device": "cpu:0"}}}', 0,
     "OK\nModalityContext(inputs_embeds=Tensor[] int64 cpu)\n"),
    # Construction does not check the slice step: the reference applies it later.
    ('{"output_slice": [null, null, 0], "forward": {"tokens": [1, 1]}}', 0,
     "OK\nModalityContext(output_slice=slice(None, None, 0))\n"),
    # A huge tensor on a device this LibTorch cannot reach: nothing is allocated.
    ('{"fields": {"inputs_embeds": {"shape": [1000000, 1000000, 1000], "dtype": "float64", "device": "hip:3"}},'
     ' "forward": {"kv_caches": true}}', 0,
     "OK\nModalityContext(inputs_embeds=Tensor[1000000, 1000000, 1000] float64 hip:3)\n"),
    # Tensors with values, at each dtype's limits; token ids and doc_ids as tensors; the KV caches' state (issue 17).
    ('{"fields": {"prefix_embeds": {"shape": [1, 2, 2], "dtype": "float16", "values": [[[0.5, -65504], [65504, 0]]]},'
     ' "modality_ids": {"shape": [1, 3], "dtype": "int64", "values": [[-9223372036854775808, 0, 9223372036854775807]]},'
     ' "key_padding_mask": {"shape": [1, 3], "dtype": "bool", "values": [[true, false, true]]}},'
     ' "output_slice": [2, null, null],'
     ' "forward": {"tokens": {"shape": [1, 1], "dtype": "int32", "device": "cpu", "values": [[7]]},'
     ' "doc_ids": {"shape": [1, 3], "dtype": "int64", "values": [[0, 0, 1]]}, "kv_caches": false}}', 0,
     "OK\nModalityContext(prefix_embeds=Tensor[1, 2, 2] float16 cpu, output_slice=slice(2, None, None), "
     "modality_ids=Tensor[1, 3] int64 cpu, key_padding_mask=Tensor[1, 3] bool cpu)\n"),
    ('{"fields": {"inputs_embeds": {"shape": [], "dtype": "bfloat16", "values": 3e38},'
     ' "image_features": null, "image_mask": {"shape": [0, 4], "dtype": "uint8", "values": []}}}', 1,
     "MODCTX_ERR_IMAGE_MASK\nModalityContext: image_mask requires image_features to be set\n"),
    ('{"fields": {"inputs_embeds": {"shape": [1, 1, 2], "dtype": "float64", "values": [[[1e308, -2]]]},'
     ' "key_padding_mask": {"shape": [1, 1], "dtype": "int8", "values": [[-128]]}},'
     ' "forward": {"tokens": null, "doc_ids": null, "kv_caches": {"seq_len": 3, "capacity": 8, "batch": 1}}}', 0,
     "OK\nModalityContext(inputs_embeds=Tensor[1, 1, 2] float64 cpu, key_padding_mask=Tensor[1, 1] int8 cpu)\n"),
    ('{"forward": {"tokens": {"shape": [2, 0], "dtype": "uint8", "values": [[], []]},'
     ' "kv_caches": {"seq_len": 0, "capacity": 0, "batch": 0}}}', 0, "OK\nModalityContext()\n"),
    # without values a tensor stays data-less, on any device
    ('{"forward": {"tokens": {"shape": [2, 24], "dtype": "int64", "device": "cuda:0"},'
     ' "doc_ids": {"shape": [2, 24], "dtype": "int64", "device": "cuda:0"}}}', 0, "OK\nModalityContext()\n"),
]

failures = 0
# Each run loads LibTorch (about a second): start them all at once.
pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(2, 2 * (os.cpu_count() or 1)))


def run(args, stdin=None):
    return pool.submit(subprocess.run, [MODCTX] + args, input=stdin, capture_output=True, text=True)


def check(name, condition_of, future):
    """Queues a check: condition_of(result) is evaluated once the run ends."""
    checks.append((name, condition_of, future))


checks = []


bundled = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".json"))
if sorted(EXPECTED) != bundled:
    failures += 1
    print("FAIL every example needs an expectation: examples %s vs expectations %s" % (bundled, sorted(EXPECTED)))

for name, (status, stdout) in sorted(EXPECTED.items()):
    check(name, lambda r, s=status, o=stdout: (r.returncode, r.stdout, r.stderr) == (s, o, ""),
          run(["check", os.path.join(EXAMPLES, name)]))
# Standard input reads the same.
with open(os.path.join(EXAMPLES, "mot.json")) as f:
    check("mot.json on stdin", lambda r: (r.returncode, r.stdout) == EXPECTED["mot.json"], run(["check", "-"], f.read()))

for text, needle in MALFORMED:
    check("malformed %r" % text,
          lambda r, n=needle: r.returncode == 2 and r.stdout == "" and "modctx: -: " in r.stderr and n in r.stderr,
          run(["check", "-"], text))

for text, status, stdout in ACCEPTED:
    check("accepted %r" % text, lambda r, s=status, o=stdout: (r.returncode, r.stdout) == (s, o),
          run(["check", "-"], text))

# Value checks need data: the checker's tensors have none, so they cannot pass.
check("--values on a device this LibTorch cannot read",
      lambda r: r.returncode == 1 and r.stdout == "MODCTX_ERR_UNSUPPORTED\nmodality.modality_ids is on cuda:0, which "
      "this LibTorch cannot read; its values were not checked\n",
      run(["check", "--values", os.path.join(EXAMPLES, "mot_with_model.json")]))
check("--values on data-less tensors",
      lambda r: r.returncode == 1 and r.stdout == "MODCTX_ERR_UNSUPPORTED\nmodality.modality_ids holds no data (a "
      "metadata-only tensor); its values were not checked\n",
      run(["check", "--values", "-"],
          '{"fields": {"prefix_embeds": {"shape": [1, 2, 4], "dtype": "float32"}, "modality_ids": {"shape": [1, 5], '
          '"dtype": "int64"}}, "forward": {"tokens": [1, 3]}, "model": {"arch": "moma", "hidden_size": 4}}'))
check("--values without a model", lambda r: r.returncode == 2 and "--values needs a model (a \"model\" section, --model or --config)" in r.stderr,
      run(["check", "--values", os.path.join(EXAMPLES, "mot.json")]))

# compose: (arguments, exit status, exact standard output).
COMPOSE = [
    (["mot", "--image", "2,4,8", "--tokens", "2,3", "--frame-mask", "1,0;1,1"], 0,
     "OK\nModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cpu, output_slice=slice(4, None, None), "
     "modality_ids=Tensor[2, 7] int64 cpu, key_padding_mask=Tensor[2, 7] bool cpu)\n"
     "modality_ids = 0,0,0,0,1,1,1; 0,0,0,0,1,1,1\nkey_padding_mask = 1,1,0,0,1,1,1; 1,1,1,1,1,1,1\n"),
    (["moma", "--image", "1,2,4", "--tokens", "1,1"], 0,
     "OK\nModalityContext(prefix_embeds=Tensor[1, 2, 4] float32 cpu, output_slice=slice(2, None, None), "
     "modality_ids=Tensor[1, 3] int64 cpu)\nmodality_ids = 0,0,1\n"),
    (["cross_attention", "--image", "2,6,8", "--tokens", "2,3", "--frame-mask", "1,1,0;1,0,0", "--dtype", "bfloat16"], 0,
     "OK\nModalityContext(image_features=Tensor[2, 6, 8] bfloat16 cpu, image_mask=Tensor[2, 6] bool cpu)\n"
     "image_mask = 1,1,1,1,0,0; 1,1,0,0,0,0\n"),
    (["joint_decoder", "--image", "2,576,4096", "--tokens", "2,24", "--device", "cuda:0", "--dtype", "bfloat16"], 0,
     "OK\nModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0, output_slice=slice(576, None, None))\n"),
    (["joint_decoder", "--image", "2,4,8", "--tokens", "2,3", "--frames", "2"], 0,
     "OK\nModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cpu, output_slice=slice(4, None, None), "
     "key_padding_mask=Tensor[2, 7] bool cpu)\nkey_padding_mask = 1,1,1,1,1,1,1; 1,1,1,1,1,1,1\n"),
    (["cross_attention", "--image", "2,10,8", "--tokens", "2,3", "--frames", "4"], 1,
     "MODCTX_ERR_SHAPE\n_visual_token_mask: num_visual_tokens (10) is not a multiple of num_frames (4); the "
     "per-frame expansion assumes frame-contiguous visual tokens.\n"),
    (["mot", "--image", "2,4,8", "--tokens", "2,3", "--device", "cuda:0"], 1,
     "MODCTX_ERR_UNSUPPORTED\nmodality_ids would be allocated on cuda:0, which this LibTorch cannot allocate on "
     "(built without that backend)\n"),
]
for args, status, stdout in COMPOSE:
    check("compose %r" % args, lambda r, s=status, o=stdout: (r.returncode, r.stdout) == (s, o),
          run(["compose"] + args))
for args in (["text", "--image", "1,2,3", "--tokens", "1,1"], ["mot", "--tokens", "1,1"], ["mot", "--image", "1,2"],
             ["mot", "--image", "1,2,3", "--tokens", "1,1", "--frames"], ["mot", "--image", "1,x,3", "--tokens", "1,1"],
             ["mot", "--image", "1,2,3", "--tokens", "1,1", "--frame-mask", "1,2"],
             ["mot", "--image", "1,2,3", "--tokens", "1,1", "--dtype", "floot"],
             ["mot", "--image", "1,2,3", "--tokens", "1,1", "--colour", "red"], ["compose"][:0]):
    check("compose usage %r" % args, lambda r: r.returncode == 2 and r.stdout == "" and "usage: modctx" in r.stderr,
          run(["compose"] + args))

# Safetensors files (examples/files): checked with their data and saved forward arguments.
FILES = os.path.join(os.path.dirname(os.path.abspath(EXAMPLES)), "files")
MOT_FILE = os.path.join(FILES, "mot.safetensors")
BAD_FILE = os.path.join(FILES, "mot_bad_modality_ids.safetensors")
MOT_FILE_OUT = ("OK\nModalityContext(prefix_embeds=Tensor[1, 2, 4] bfloat16 cpu, output_slice=slice(2, None, None), "
                "modality_ids=Tensor[1, 4] int64 cpu, key_padding_mask=Tensor[1, 4] bool cpu)\n")
MOT_MODEL = '{"arch": "mot", "hidden_size": 4, "num_modalities": 2}'
check("safetensors file", lambda r: (r.returncode, r.stdout) == (0, MOT_FILE_OUT), run(["check", MOT_FILE]))
check("safetensors file, values against a model", lambda r: (r.returncode, r.stdout) == (0, MOT_FILE_OUT),
      run(["check", "--values", "--model", MOT_MODEL, MOT_FILE]))
check("safetensors file, ids out of range",
      lambda r: (r.returncode, r.stdout) == (1, "MODCTX_ERR_VALUE\nmodality.modality_ids values must be in [0, 2), "
                                              "found 2\n"),
      run(["check", "--values", "--model", MOT_MODEL, BAD_FILE]))
check("safetensors file, values not asked", lambda r: r.returncode == 0, run(["check", "--model", MOT_MODEL, BAD_FILE]))
with open(MOT_FILE, "rb") as f:
    MOT_BYTES = f.read()
check("safetensors on standard input",
      lambda r: (r.returncode, r.stdout) == (0, MOT_FILE_OUT.encode()),
      pool.submit(subprocess.run, [MODCTX, "check", "-"], input=MOT_BYTES, capture_output=True))
check("truncated safetensors",
      lambda r: r.returncode == 2 and b"modctx: -: header length 352 exceeds the file (92 bytes after the 8-byte length)" in r.stderr and b"MODCTX_ERR_FORMAT" in r.stderr,
      pool.submit(subprocess.run, [MODCTX, "check", "-"], input=MOT_BYTES[:100], capture_output=True))
check("--model with a wrong hidden size",
      lambda r: (r.returncode, r.stdout) == (1, "MODCTX_ERR_SHAPE\nmodality.prefix_embeds hidden size 4 does not "
                                              "match the model's hidden_size 8\n"),
      run(["check", "--model", '{"arch": "mot", "hidden_size": 8}', MOT_FILE]))
check("--model malformed", lambda r: r.returncode == 2 and "--model: malformed JSON" in r.stderr,
      run(["check", "--model", "{arch", MOT_FILE]))
check("--model without forward arguments",
      lambda r: r.returncode == 2 and "a model check needs the forward arguments" in r.stderr,
      run(["check", "--model", MOT_MODEL, os.path.join(EXAMPLES, "invalid_routes.json")]))

check("missing file",
      lambda r: r.returncode == 2 and "cannot read /nonexistent/context.json: No such file or directory" in r.stderr,
      run(["check", "/nonexistent/context.json"]))
check("--help", lambda r: r.returncode == 0 and r.stdout.startswith("modctx: ") and "usage: modctx check" in r.stdout,
      run(["--help"]))
check("--version", lambda r: r.returncode == 0 and r.stdout.startswith("modctx ") and
      r.stdout.split()[1].count(".") == 2, run(["--version"]))
for args in ([], ["frobnicate"], ["check"], ["check", "a", "b"]):
    check("usage %r" % args, lambda r: r.returncode == 2 and "usage: modctx check" in r.stderr and r.stdout == "",
          run(args))

# ---- Reading input safely (issue 10): limits, duplicate keys, kinds of files, --help, --forward.
import tempfile
import threading

SCRATCH = tempfile.mkdtemp(prefix="modctx-cli-test-")


def run_bytes(args, stdin=None, **kwargs):
    return pool.submit(subprocess.run, [MODCTX] + args, input=stdin, capture_output=True, **kwargs)


def unreadable_with(needle):
    """Exit 2, nothing on standard output, `needle` in the message."""
    def condition(r):
        err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode("utf-8", "replace")
        return r.returncode == 2 and not r.stdout and needle in err
    return condition


def endless_stdin_peak_kib():
    """/dev/zero on standard input: (exit status, stderr, peak resident KiB).
    Run alone, so that wait4 gives this process's own peak."""
    with open("/dev/zero", "rb") as zero:
        p = subprocess.Popen([MODCTX, "check", "-"], stdin=zero, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.stdout.read(), p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out, err.decode(), usage.ru_maxrss


rc, out, err, peak = endless_stdin_peak_kib()
# 64 MiB is read, then reading stops; under sanitizers a process is larger,
# but nowhere near what endless reading would reach.
if not (rc == 2 and out == b"" and "-: more than 64 MiB (67108864 bytes), the most a JSON document may have" in err
        and peak < 512 * 1024):
    failures += 1
    print("FAIL /dev/zero on standard input: %r" % ((rc, out, err, peak),))


def endless_pipe():
    """`yes | modctx check -`: a pipe that never ends."""
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        r = subprocess.run([MODCTX, "check", "-"], stdin=yes.stdout, capture_output=True, text=True)
    finally:
        yes.stdout.close()
        yes.kill()
        yes.wait()
    return r


check("an endless pipe on standard input", unreadable_with("-: more than 64 MiB"), pool.submit(endless_pipe))
check("/dev/zero named", unreadable_with("modctx: /dev/zero: a character device, not a file; not read"),
      run(["check", "/dev/zero"]))
check("/dev/null named", unreadable_with("modctx: /dev/null: a character device"), run(["check", "/dev/null"]))
big = os.path.join(SCRATCH, "big.json")
with open(big, "wb") as f:
    f.truncate((64 << 20) + 1)  # sparse: nothing is written, and nothing should be read
check("a JSON file over 64 MiB",
      unreadable_with("big.json: 67108865 bytes, more than the 64 MiB (67108864 bytes) a JSON document may have; not read"),
      run(["check", big]))
empty_dir = os.path.join(SCRATCH, "empty")
os.mkdir(empty_dir)
check("a directory with no context", unreadable_with("modctx: check: no .json or .safetensors file in " + empty_dir),
      run(["check", empty_dir]))

# Duplicate keys at any depth are errors at their JSON path.
DUPLICATES = [
    ('{"fields": {}, "fields": {}}', "/fields"),
    ('{"fields": {"inputs_embeds": {"shape": [1, 2, 3], "dtype": "float32"}, "prefix_embeds": '
     '{"shape": [1, 2, 3], "dtype": "float32"}, "prefix_embeds": null}}', "/fields/prefix_embeds"),
    ('{"fields": {"prefix_embeds": {"shape": [1, 2, 3], "dtype": "float32", "dtype": "int64"}}}',
     "/fields/prefix_embeds/dtype"),
    ('{"forward": {"tokens": [1, 2], "kv_caches": true, "kv_caches": false}}', "/forward/kv_caches"),
    ('{"forward": {}, "model": {"arch": "mot", "arch": "text", "hidden_size": 8}}', "/model/arch"),
    ('{"output_slice": [{"a": 1, "a": 2}, null, null]}', "/output_slice/0/a"),
    ('{"fields": {"a/b": 1, "a/b": 2}}', "/fields/a~1b"),
]
for text, path in DUPLICATES:
    key = path.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
    check("duplicate key at %s" % path,
          unreadable_with('modctx: -: %s: duplicate key "%s" (a key may appear once in an object)' % (path, key)),
          run(["check", "-"], text))
check("nesting deeper than 32 levels",
      unreadable_with("modctx: -: /forward/tokens" + "/0" * 30 + ": JSON nested deeper than 32 levels"),
      run(["check", "-"], '{"forward": {"tokens": ' + "[" * 40 + "]" * 40 + "}}"))


def through_fifo(text):
    """A FIFO named on the command line, as `<(cat ctx.json)` gives one."""
    fifo = tempfile.mktemp(dir=SCRATCH, suffix=".fifo")
    os.mkfifo(fifo)

    def write():
        with open(fifo, "w") as f:  # waits for the checker to open it
            f.write(text)

    writer = threading.Thread(target=write)
    writer.start()
    r = subprocess.run([MODCTX, "check", fifo], capture_output=True, text=True)
    writer.join()
    return r


with open(os.path.join(EXAMPLES, "mot.json")) as f:
    MOT_TEXT = f.read()
check("a FIFO named on the command line is read", lambda r: (r.returncode, r.stdout) == EXPECTED["mot.json"],
      pool.submit(through_fifo, MOT_TEXT))

# --help for each command.
for args, start in ((["check", "--help"], "usage: modctx check"), (["check", "-h"], "usage: modctx check"),
                    (["check", "--values", "--help", "x.json"], "usage: modctx check"),
                    (["compose", "--help"], "usage: modctx compose"), (["compose", "mot", "-h"], "usage: modctx compose")):
    check("help %r" % args, lambda r, s=start: r.returncode == 0 and r.stdout.startswith(s) and r.stderr == "",
          run(args))
check("check --help states the limits",
      lambda r: "64 MiB" in r.stdout and "--forward ARGS" in r.stdout and "Exit status" in r.stdout,
      run(["check", "--help"]))
for args, needle in ((["check", "--frobnicate", "x.json"], "check: unknown option --frobnicate"),
                     (["check", "--format", "xml", "x.json"], "--format is text or json"),
                     (["check", "--model"], "--model needs a value"),
                     (["check", "--values"], "check needs a PATH"),
                     (["check", "-", "-"], "standard input) given more than once")):
    check("usage %r" % args, lambda r, n=needle: r.returncode == 2 and r.stdout == "" and n in r.stderr and
          "usage: modctx check" in r.stderr, run(args))
check("-- ends the options", lambda r: r.returncode == 2 and "cannot read --help: No such file or directory" in r.stderr,
      run(["check", "--", "--help"]))

# --forward: the forward arguments on the command line, replacing the file's.
NO_FORWARD = '{"fields": {"inputs_embeds": {"shape": [2, 24, 8], "dtype": "float32"}}}'
KV_ONLY = "MODCTX_ERR_KV_CACHE\nmodality.prefix_embeds is training-only; cannot be combined with kv_caches\n"
PREFIX = '{"fields": {"prefix_embeds": {"shape": [2, 4, 8], "dtype": "float32"}}, "forward": {"tokens": [2, 3]}}'
FORWARD = [
    (["--forward", "tokens=2,24"], NO_FORWARD, 1, "MODCTX_ERR_FORWARD_INPUTS\nTransformer.forward requires exactly one "
                                                  "of tokens or modality.inputs_embeds\n"),
    (["--forward", "tokens=none"], NO_FORWARD, 0, None),
    (["--forward", '{"tokens": null, "kv_caches": false}'], NO_FORWARD, 0, None),
    (["--forward=tokens=2,3,kv_caches"], PREFIX, 1, KV_ONLY),
    (["--forward", "kv_caches=true, tokens=2,3"], PREFIX, 1, KV_ONLY),
    (["--forward", '{"tokens": [2, 3], "kv_caches": true}'], PREFIX, 1, KV_ONLY),
    # replaces the document's own forward section (which has no KV caches)
    (["--forward", "tokens=2,3,kv_caches=false"], PREFIX, 0, None),
    (["--forward", "tokens=2,3", "--model", '{"arch": "joint_decoder", "hidden_size": 16}'], PREFIX, 1,
     "MODCTX_ERR_SHAPE\nmodality.prefix_embeds hidden size 8 does not match the model's hidden_size 16\n"),
    # a model section without forward arguments is accepted when --forward gives them
    (["--forward", "tokens=2,3"], '{"fields": {}, "model": {"arch": "text", "hidden_size": 8}}', 0, None),
]
for args, text, status, stdout in FORWARD:
    check("--forward %r" % args, lambda r, s=status, o=stdout: r.returncode == s and (
        o is None and r.stdout.startswith("OK\n") or r.stdout == o), run(["check"] + args + ["-"], text))
for value, needle in (("tokens=2,x", '--forward: "x" is not a size in "tokens=2,x"'),
                      ("tokens=1,tokens=2", "--forward: tokens given twice"),
                      ("kv_caches,kv_caches", "--forward: kv_caches given twice"),
                      ("", "--forward: an empty item"), ("batch=2", '--forward: unknown item "batch=2"'),
                      ('{"tokens": 5}', "--forward/tokens: expected a shape"),
                      ('{"tokens": [1], "kv": 1}', '--forward/kv: unknown key "kv"'),
                      ('{"tokens": [1]', "--forward: malformed JSON"),
                      ("tokens=-1", '"-1" is not a size')):
    check("--forward %r" % value, lambda r, n=needle: r.returncode == 2 and r.stdout == "" and n in r.stderr,
          run(["check", "--forward", value, os.path.join(EXAMPLES, "mot.json")]))
# A safetensors file from another writer (no forward arguments saved), model-checked with --forward.
with open(MOT_FILE, "rb") as f:
    raw = f.read()
import json as _json
import struct as _struct
header_len = _struct.unpack("<Q", raw[:8])[0]
header = _json.loads(raw[8:8 + header_len])
del header["__metadata__"]
foreign_header = _json.dumps(header).encode()
foreign_header += b" " * (-len(foreign_header) % 8)
FOREIGN = os.path.join(SCRATCH, "foreign.safetensors")
with open(FOREIGN, "wb") as f:
    f.write(_struct.pack("<Q", len(foreign_header)) + foreign_header + raw[8 + header_len:])
check("foreign safetensors without forward arguments, --model alone",
      unreadable_with("a model check needs the forward arguments, and %s has none (give them with --forward)" % FOREIGN),
      run(["check", "--model", MOT_MODEL, FOREIGN]))
check("foreign safetensors, --model and --forward",
      lambda r: (r.returncode, r.stdout) == (0, MOT_FILE_OUT.replace("output_slice=slice(2, None, None), ", "")),
      run(["check", "--values", "--model", MOT_MODEL, "--forward", "tokens=1,2", FOREIGN]))

# A safetensors file over 64 MiB is mapped, not read (sparse: its data is never touched).
big_header = _json.dumps({"inputs_embeds": {"dtype": "F32", "shape": [1, 4352, 4096],
                                            "data_offsets": [0, 4352 * 4096 * 4]}}).encode()
big_header += b" " * (-len(big_header) % 8)
for name in ("big.safetensors", "big_safetensors.bin"):  # by its name, and by its first bytes
    path = os.path.join(SCRATCH, name)
    with open(path, "wb") as f:
        f.write(_struct.pack("<Q", len(big_header)) + big_header)
        f.truncate(8 + len(big_header) + 4352 * 4096 * 4)
    check("a safetensors file over 64 MiB (%s)" % name,
          lambda r: (r.returncode, r.stdout) == (0, "OK\nModalityContext(inputs_embeds=Tensor[1, 4352, 4096] float32 cpu)\n"),
          run(["check", path]))

# ---- Whole forward requests (issue 17): value checks on JSON values, the KV caches' state, --config.
CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
MOT_TOML = os.path.join(CONFIGS, "cli_mot.toml")    # MoT: dim 8, 4 image tokens, vocab 100, max_seq_len 16
TEXT_TOML = os.path.join(CONFIGS, "cli_text.toml")  # text: dim 8, vocab 100, max_seq_len 16


def mot_request(text=3, batch=1, image=4, token_values=None, token_dtype="int64", ids=None, doc_ids=None,
                model=None):
    """A MoT request for cli_mot.toml: prefix_embeds, modality_ids with values, token ids with values."""
    doc = {"fields": {"prefix_embeds": {"shape": [batch, image, 8], "dtype": "float32"},
                      "modality_ids": {"shape": [batch, image + text], "dtype": "int64",
                                       "values": ids or [[0] * image + [1] * text] * batch}},
           "output_slice": [image, None, None],
           "forward": {"tokens": {"shape": [batch, text], "dtype": token_dtype,
                                  "values": token_values or [[1] * text] * batch}}}
    if doc_ids is not None:
        doc["forward"]["doc_ids"] = doc_ids
    if model is not None:
        doc["model"] = model
    return json.dumps(doc)


def text_request(text, batch=1, kv=None, token_values=None, doc_ids=None, tokens=None):
    """A text-model request for cli_text.toml: token ids (with values unless `tokens` gives a shape), KV caches."""
    forward = {"tokens": tokens or {"shape": [batch, text], "dtype": "int64",
                                    "values": token_values or [[5] * text] * batch}}
    if kv is not None:
        forward["kv_caches"] = kv
    if doc_ids is not None:
        forward["doc_ids"] = doc_ids
    return json.dumps({"forward": forward})


def ids_tensor(shape, value=0):
    return {"shape": shape, "dtype": "int64", "values": [[value] * shape[1]] * shape[0]}


LENGTH = "MODCTX_ERR_LENGTH"
KV = "MODCTX_ERR_KV_CACHE"
VALUE = "MODCTX_ERR_VALUE"
# (options, request, exit status, the code line (None: valid), a substring of the message)
REQUESTS = [
    # MoT counts each modality's positions from 0: 16 text positions fit max_seq_len 16, 17 do not.
    (["--config", MOT_TOML, "--values"], mot_request(text=16, token_values=[[99] * 16]), 0, None, None),
    (["--config", MOT_TOML, "--values"], mot_request(text=17), 1, LENGTH, "MoT text stream of 17 positions exceeds "
                                                                          "the model's max_seq_len 16"),
    (["--config", MOT_TOML], mot_request(text=2, batch=2), 0, None, None),
    # token ids within [0, vocab_size), read only with --values
    (["--config", MOT_TOML, "--values"], mot_request(token_values=[[0, 99, 100]]), 1, VALUE,
     "tokens values must be in [0, 100) (the model's vocab_size), found 100"),
    (["--config", MOT_TOML, "--values"], mot_request(token_values=[[-1, 99, 5]]), 1, VALUE, "found -1"),
    (["--config", MOT_TOML], mot_request(token_values=[[0, 99, 100]]), 0, None, None),
    (["--config", MOT_TOML, "--values"], mot_request(token_values=[[0, 99, 100]], token_dtype="int32"), 1, VALUE,
     "found 100"),
    # nn.Embedding takes int64 or int32 ids; float ids are refused whatever their values
    (["--config", MOT_TOML], mot_request(token_values=[[0.0, 1.5, 2.0]], token_dtype="float32"), 1,
     "MODCTX_ERR_DTYPE", "tokens.dtype must be torch.int64 or torch.int32"),
    # modality_ids within [0, num_modalities), read only with --values
    (["--config", MOT_TOML, "--values"], mot_request(ids=[[0, 0, 0, 0, 1, 2, 1]]), 1, VALUE,
     "modality.modality_ids values must be in [0, 2), found 2"),
    (["--config", MOT_TOML], mot_request(ids=[[0, 0, 0, 0, 1, 2, 1]]), 0, None, None),
    # MoT's blocks ignore doc_ids
    (["--config", MOT_TOML], mot_request(doc_ids=ids_tensor([1, 7])), 1, "MODCTX_ERR_UNUSED_FIELD",
     "doc_ids is not used by a mot model"),
    # the model's image tokens
    (["--config", MOT_TOML], mot_request(image=5), 1, "MODCTX_ERR_SHAPE", None),
    # --config replaces the document's "model" section (its vocabulary is larger)
    ([], mot_request(token_values=[[150, 1, 2]], model={"arch": "mot", "hidden_size": 8, "vocab_size": 1000}),
     0, None, None),
    (["--values"], mot_request(token_values=[[150, 1, 2]], model={"arch": "mot", "hidden_size": 8,
                                                                  "vocab_size": 1000}), 0, None, None),
    (["--values", "--config", MOT_TOML], mot_request(token_values=[[150, 1, 2]], model={"arch": "mot",
     "hidden_size": 8, "vocab_size": 1000}), 1, VALUE, "found 150"),
    # values asked for, but the token ids are a shape only
    (["--config", TEXT_TOML, "--values"], text_request(4, tokens=[1, 4]), 1, "MODCTX_ERR_UNSUPPORTED",
     "tokens are given as a shape only; their values were not checked"),
    (["--config", TEXT_TOML], text_request(4, tokens=[1, 4]), 0, None, None),
    # a text model: the whole residual within max_seq_len, KV caches' fill included
    (["--config", TEXT_TOML, "--values"], text_request(16), 0, None, None),
    (["--config", TEXT_TOML], text_request(17), 1, LENGTH, "sequence of 17 positions exceeds the model's "
                                                           "max_seq_len 16"),
    (["--config", TEXT_TOML], text_request(6, kv={"seq_len": 10, "capacity": 32, "batch": 1}), 0, None, None),
    (["--config", TEXT_TOML], text_request(7, kv={"seq_len": 10, "capacity": 32, "batch": 1}), 1, LENGTH,
     "KV caches at position 10 plus 7 new positions exceed the model's max_seq_len 16"),
    (["--config", TEXT_TOML], text_request(6, kv={"seq_len": 10, "capacity": 16, "batch": 1}), 0, None, None),
    (["--config", TEXT_TOML], text_request(6, kv={"seq_len": 10, "capacity": 15, "batch": 1}), 1, KV,
     "kv_caches hold 10 of 15 positions; 6 new positions do not fit"),
    (["--config", TEXT_TOML], text_request(1, batch=2, kv={"seq_len": 3, "capacity": 8, "batch": 1}), 1, KV,
     "kv_caches have batch size 1, but tokens has batch size 2"),
    (["--config", TEXT_TOML], text_request(1, kv={"seq_len": 9, "capacity": 8, "batch": 1}), 1,
     "MODCTX_ERR_INVALID_ARGUMENT", "seq_len 9 is past its capacity 8"),
    (["--config", TEXT_TOML], text_request(1, kv=True, doc_ids=ids_tensor([1, 1])), 1, KV,
     "doc_ids / key_padding_mask are not supported with kv_cache decode (would build an incorrect causal mask)."),
    (["--config", TEXT_TOML], json.dumps({"fields": {"inputs_embeds": {"shape": [1, 1, 8], "dtype": "float32"},
                                                     "key_padding_mask": {"shape": [1, 1], "dtype": "bool"}},
                                          "forward": {"kv_caches": {"seq_len": 3, "capacity": 8, "batch": 1}}}), 1,
     KV, "doc_ids / key_padding_mask are not supported with kv_cache decode"),
    # doc_ids over the residual (B, N + T)
    (["--config", TEXT_TOML], text_request(5, doc_ids=ids_tensor([1, 5])), 0, None, None),
    (["--config", TEXT_TOML], text_request(5, doc_ids=ids_tensor([1, 4])), 1, "MODCTX_ERR_SHAPE",
     "doc_ids shape (1, 4) does not match residual shape (1, 5)"),
    (["--config", TEXT_TOML, "--values"], text_request(2, token_values=[[5, 100]]), 1, VALUE, "found 100"),
    # --forward replaces the document's forward section, token values included
    (["--config", TEXT_TOML, "--values", "--forward",
      '{"tokens": {"shape": [1, 2], "dtype": "int64", "values": [[1, 100]]}}'], text_request(2), 1, VALUE,
     "found 100"),
]
for args, text, status, code, needle in REQUESTS:
    check("request %r %s" % (args, text[:80]),
          lambda r, s=status, c=code, n=needle: r.returncode == s and (
              r.stdout.startswith("OK\n") if c is None else r.stdout.split("\n")[0] == c and (n or "") in r.stdout),
          run(["check"] + args + ["-"], text))

# A safetensors file with the token ids as a tensor and the KV caches' state: checked with its data.
def request_file(name, ids):
    header = {"__metadata__": {"modctx.format": "1", "modctx.forward": json.dumps(
                  {"tokens": [1, len(ids)], "kv_caches": {"seq_len": 3, "capacity": 8, "batch": 1}})},
              "tokens": {"dtype": "I64", "shape": [1, len(ids)], "data_offsets": [0, 8 * len(ids)]}}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path = os.path.join(SCRATCH, name)
    with open(path, "wb") as f:
        f.write(_struct.pack("<Q", len(text)) + text + _struct.pack("<%dq" % len(ids), *ids))
    return path


for ids, options, stdout in (([5, 99], ["--values"], "OK\nModalityContext()\n"),
                             ([5, 100], [], "OK\nModalityContext()\n"),
                             ([5, 100], ["--values"], "MODCTX_ERR_VALUE\ntokens values must be in [0, 100) (the "
                                                      "model's vocab_size), found 100\n"),
                             ([5] * 6, [], "MODCTX_ERR_KV_CACHE\nkv_caches hold 3 of 8 positions; 6 new positions do "
                                           "not fit\n")):
    check("safetensors request %r %r" % (ids, options), lambda r, o=stdout: (r.returncode, r.stdout) == (
          0 if o.startswith("OK") else 1, o),
          run(["check", "--config", TEXT_TOML] + options + [request_file("request_%d.safetensors" % len(checks), ids)]))

# The bundled request and config (examples/): within budget, ids in range.
EXAMPLE_CONFIG = os.path.join(os.path.dirname(os.path.abspath(EXAMPLES)), "configs", "mot_debug.toml")
check("examples: mot_request.json against mot_debug.toml, with values",
      lambda r: (r.returncode, r.stdout) == EXPECTED["mot_request.json"],
      run(["check", "--values", "--config", EXAMPLE_CONFIG, os.path.join(EXAMPLES, "mot_request.json")]))
check("examples: mot_request.json with values, its own model",
      lambda r: (r.returncode, r.stdout) == EXPECTED["mot_request.json"],
      run(["check", "--values", os.path.join(EXAMPLES, "mot_request.json")]))

# --config: one model; an unusable config is unusable input (exit 2), never a crash.
for args in (["--config", MOT_TOML, "--model", MOT_MODEL], ["--model=" + MOT_MODEL, "--config=" + MOT_TOML]):
    check("usage %r" % args, lambda r: r.returncode == 2 and r.stdout == "" and
          "check: give --model or --config, not both" in r.stderr and "usage: modctx check" in r.stderr,
          run(["check"] + args + [os.path.join(EXAMPLES, "mot.json")]))
check("usage --config without a value", lambda r: r.returncode == 2 and "--config needs a value" in r.stderr,
      run(["check", "--config"]))
check("check --help names --config", lambda r: r.returncode == 0 and "--config FILE" in r.stdout,
      run(["check", "--help"]))
check("--config, a file that does not exist",
      unreadable_with("modctx: /nonexistent/model.toml: cannot open: No such file or directory (MODCTX_ERR_IO)"),
      run(["check", "--config", "/nonexistent/model.toml", os.path.join(EXAMPLES, "mot.json")]))
HOSTILE_CONFIGS = [
    ("[model\ndim = 8\n", "malformed TOML"),
    ("[model]\ndim = 99999999999999999999\n", "malformed TOML"),
    ("[model]\nn_layers = -1\n", "model.n_layers"),
    ("[model]\nvocab_size = -50257\n", "model.vocab_size"),
    ("[model]\nmax_seq_len = 0\n", "model.max_seq_len"),
    ("[model]\ndim = \"256\"\n", "model.dim: expected an integer, found a string"),
    ("[modle]\ndim = 8\n", "modle: unknown section"),
    ("x = " + "[" * 100000 + "]" * 100000 + "\n", "nested deeper"),
    ("[" + ".".join(["a"] * 5000) + "]\n", "nested deeper"),
    ("[vision_encoder]\ntype = \"random\"\nnum_tokens = -4\n[vlm]\narch = \"mot\"\n", "vision_encoder.num_tokens"),
    ("\x00\xff\xfe garbage", ""),
]
# The largest numbers a config may hold are a model like any other: checked without overflow.
HUGE = os.path.join(SCRATCH, "huge.toml")
with open(HUGE, "w") as f:
    f.write("[model]\ndim = 9223372036854775807\nn_heads = 1\nn_kv_heads = 1\nvocab_size = 9223372036854775807\n"
            "max_seq_len = 9223372036854775807\n")
check("a config of the largest numbers",
      lambda r: (r.returncode, r.stdout) == (1, "MODCTX_ERR_SHAPE\nmodality.prefix_embeds hidden size 256 does not "
                                              "match the model's hidden_size 9223372036854775807\n"),
      run(["check", "--config", HUGE, os.path.join(EXAMPLES, "mot_request.json")]))
check("a config of the largest numbers, KV caches at the end of the RoPE table",
      lambda r: r.returncode == 1 and r.stdout.startswith(LENGTH + "\nKV caches at position 9223372036854775807 "),
      run(["check", "--values", "--config", HUGE, "-"],
          text_request(1, kv={"seq_len": 9223372036854775807, "capacity": 9223372036854775807, "batch": 1})))
for i, (text, needle) in enumerate(HOSTILE_CONFIGS):
    path = os.path.join(SCRATCH, "hostile_%d.toml" % i)
    with open(path, "w", encoding="latin-1") as f:
        f.write(text)
    check("hostile config %r" % text[:60],
          lambda r, p=path, n=needle: r.returncode == 2 and r.stdout == "" and r.stderr.startswith("modctx: " + p + ": ")
          and n in r.stderr and "(MODCTX_ERR_FORMAT)" in r.stderr,
          run(["check", "--config", path, os.path.join(EXAMPLES, "mot_request.json")]))

for name, condition_of, future in checks:
    r = future.result()
    if not condition_of(r):
        failures += 1
        print("FAIL %s: %r" % (name, (r.returncode, r.stdout, r.stderr)))
import shutil
shutil.rmtree(SCRATCH)
print("%d passed, %d failed" % (len(checks) + 1 - failures, failures))
sys.exit(1 if failures else 0)
