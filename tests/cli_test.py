"""Runs the `modctx` checker on every bundled example and on malformed input,
checking exit status, standard output and the error text.

usage: cli_test.py MODCTX EXAMPLES_DIR
"""
import concurrent.futures
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
    "invalid_modality_ids_dtype.json": (
        1, "MODCTX_ERR_DTYPE\nmodality.modality_ids.dtype must be torch.long, got torch.int32\n"),
}

# Unusable documents: (JSON text, substring the error must contain). All exit 2.
MALFORMED = [
    ("", "malformed JSON"),
    ("{", "malformed JSON"),
    ("[]", "expected an object, found an array"),
    ("null", "expected an object, found null"),
    ('{"feilds": {}}', '/feilds: unknown key "feilds"'),
    ('{"fields": []}', "/fields: expected an object, found an array"),
    ('{"fields": {"prefix": {}}}', '/fields/prefix: unknown field "prefix"'),
    ('{"fields": {"prefix_embeds": 3}}', "/fields/prefix_embeds: expected an object, found a number"),
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
    ('{"forward": {"tokens": [2, 24], "kv_cache": true}}', '/forward/kv_cache: unknown key "kv_cache"'),
    ('{"forward": {"tokens": [2, 24], "kv_caches": 1}}', "/forward/kv_caches: expected true or false"),
    ('{"forward": {"tokens": 5}}', "/forward/tokens: expected a shape"),
    ('{"forward": []}', "/forward: expected an object"),
    ('{"fields": {"a/b~c": null}}', '/fields/a~1b~0c: unknown field "a/b~c"'),
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

for name, condition_of, future in checks:
    r = future.result()
    if not condition_of(r):
        failures += 1
        print("FAIL %s: %r" % (name, (r.returncode, r.stdout, r.stderr)))
print("%d passed, %d failed" % (len(checks) + 1 - failures, failures))
sys.exit(1 if failures else 0)
