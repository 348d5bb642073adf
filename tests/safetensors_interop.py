"""modctx's safetensors files against an independent reader and writer.

usage: safetensors_interop.py SAFETENSORS_TOOL

1. Files written by modctx (through SAFETENSORS_TOOL write) are parsed with a
   minimal, strict safetensors reader written here (struct + json +
   torch.frombuffer), following the reference implementation's rules: header
   padded with spaces to a multiple of 8, no duplicate keys, tensors laid out
   contiguously from offset 0 to the end of the file, each aligned to its
   element size; the values and the metadata must be the ones written.
2. Files written by a minimal writer here, in the ways other writers differ
   (key order, padding or none, foreign metadata, misaligned tensors, holes),
   are loaded by modctx (SAFETENSORS_TOOL read) and must give the same values.
3. Corrupted files (every truncation, random byte changes, lying lengths) are
   refused with a modctx error, never a crash.

Needs PyTorch (Debian's python3-torch for /usr/bin/python3); exits 77
(skipped) without it.
"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("PyTorch is not installed for", sys.executable, "- skipping")
    sys.exit(77)

TOOL = sys.argv[1]

# safetensors dtype name -> (torch dtype, torch name used by the modctx tool, item size)
DTYPES = {
    "F64": (torch.float64, "float64", 8),
    "F32": (torch.float32, "float32", 4),
    "F16": (torch.float16, "float16", 2),
    "BF16": (torch.bfloat16, "bfloat16", 2),
    "I64": (torch.int64, "int64", 8),
    "I32": (torch.int32, "int32", 4),
    "I16": (torch.int16, "int16", 2),
    "I8": (torch.int8, "int8", 1),
    "U8": (torch.uint8, "uint8", 1),
    "BOOL": (torch.bool, "bool", 1),
    "C64": (torch.complex64, "complex64", 8),
}
FIELDS = ["inputs_embeds", "prefix_embeds", "image_features", "image_mask", "modality_ids",
          "key_padding_mask"]

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what)


# ---------------------------------------------------------------- a reader


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate keys in %r" % keys)
    return dict(pairs)


def strict_read(path):
    """Parses a safetensors file as strictly as the reference reader; returns
    (metadata, {name: tensor}, header_text)."""
    with open(path, "rb") as f:
        blob = f.read()
    assert len(blob) >= 8, "too short"
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header length beyond the file"
    header_bytes = blob[8:8 + n]
    header_text = header_bytes.decode("utf-8")
    assert header_text.startswith("{"), "header does not start with {"
    assert (8 + n) % 8 == 0, "data buffer not aligned to 8"
    _, end = json.JSONDecoder(object_pairs_hook=no_duplicates).raw_decode(header_text)
    assert set(header_text[end:]) <= {" "}, "header padded with something else than spaces"
    header = json.loads(header_text, object_pairs_hook=no_duplicates)
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in metadata.values()), "metadata values must be strings"
    tensors = {}
    expected_begin = 0
    for name, info in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        assert set(info) == {"dtype", "shape", "data_offsets"}, info
        torch_dtype, _, itemsize = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        numel = 1
        for s in info["shape"]:
            assert isinstance(s, int) and s >= 0
            numel *= s
        assert begin == expected_begin, "hole or overlap before %s" % name
        assert end - begin == numel * itemsize, "size mismatch for %s" % name
        assert begin % itemsize == 0, "%s is not aligned" % name
        expected_begin = end
        if numel == 0:
            t = torch.empty(info["shape"], dtype=torch_dtype)
        else:
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch_dtype).reshape(info["shape"])
        tensors[name] = t
    assert expected_begin == len(data), "bytes after the last tensor"
    return metadata, tensors, header_text


# ---------------------------------------------------------------- a writer


def raw_bytes(t):
    t = t.contiguous()
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bfloat16:                    # numpy has no bfloat16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_file(path, tensors, metadata=None, order=None, pad=True, align=True, hole=0, trailing=b"",
               extra_header=None):
    """tensors: {name: torch tensor}. Writes them in `order` (default: given
    order), optionally padding the header and aligning each tensor."""
    names = order or list(tensors)
    data = b""
    entries = {}
    for name in names:
        t = tensors[name]
        itemsize = DTYPES[dtype_name(t.dtype)][2]
        if align:
            data += b"\0" * ((-len(data)) % itemsize)
        data += b"\0" * hole
        begin = len(data)
        data += raw_bytes(t)
        entries[name] = {"dtype": dtype_name(t.dtype), "shape": list(t.shape), "data_offsets": [begin, len(data)]}
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    header.update(entries)
    if extra_header:
        header.update(extra_header)
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((-(8 + len(text))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data + trailing)


def dtype_name(torch_dtype):
    for name, (d, _, _) in DTYPES.items():
        if d == torch_dtype:
            return name
    raise KeyError(torch_dtype)


# ---------------------------------------------------------------- values


def sample(name, shape, rng):
    """A tensor of safetensors dtype `name` with exactly representable values."""
    torch_dtype = DTYPES[name][0]
    numel = 1
    for s in shape:
        numel *= s
    if name == "BOOL":
        vals = [rng.random() < 0.5 for _ in range(numel)]
        return torch.tensor(vals, dtype=torch.bool).reshape(shape)
    if name == "C64":
        re = [rng.randint(-100, 100) / 4 for _ in range(numel)]
        im = [rng.randint(-100, 100) / 8 for _ in range(numel)]
        return torch.complex(torch.tensor(re), torch.tensor(im)).reshape(shape)
    if name in ("F64", "F32", "F16", "BF16"):
        vals = [rng.randint(-256, 256) / 4 for _ in range(numel)]
        t = torch.tensor(vals, dtype=torch.float64)
        if name == "F64":
            t[::3] = torch.tensor([rng.uniform(-1e300, 1e300) for _ in range(len(t[::3]))], dtype=torch.float64)
        if name == "F32" and numel:
            t[0] = 3.4e38
        return t.to(torch_dtype).reshape(shape)
    info = torch.iinfo(torch_dtype)
    vals = [rng.randint(info.min, info.max) for _ in range(numel)]
    if numel >= 2:
        vals[0], vals[1] = info.min, info.max
    return torch.tensor(vals, dtype=torch_dtype).reshape(shape)


def to_json_values(t):
    """Flat values as the tool prints them."""
    flat = t.reshape(-1)
    if t.dtype == torch.bool:
        return [bool(v) for v in flat.tolist()]
    if t.is_complex():
        return [[float(v.real), float(v.imag)] for v in flat.tolist()]
    if t.is_floating_point():
        return [float(v) for v in flat.to(torch.float64).tolist()]
    return [int(v) for v in flat.tolist()]


def from_json_values(values, name, shape):
    torch_dtype = DTYPES[name][0]
    if name == "C64":
        return torch.complex(torch.tensor([v[0] for v in values], dtype=torch.float64),
                             torch.tensor([v[1] for v in values], dtype=torch.float64)).to(torch_dtype).reshape(shape)
    if name == "BOOL":
        return torch.tensor(values, dtype=torch.bool).reshape(shape)
    if name in ("I64", "I32", "I16", "I8", "U8"):
        return torch.tensor(values, dtype=torch.int64).to(torch_dtype).reshape(shape)
    return torch.tensor(values, dtype=torch.float64).to(torch_dtype).reshape(shape)


def same(a, b):
    return a.dtype == b.dtype and list(a.shape) == list(b.shape) and torch.equal(a, b)


def run_tool(*args, stdin=None):
    proc = subprocess.run([TOOL, *args], input=stdin, capture_output=True, text=True)
    if proc.returncode < 0:
        raise SystemExit("safetensors_tool died of signal %d on %r\n%s" % (-proc.returncode, args, proc.stderr))
    return proc


def read_with_modctx(paths, summary=False):
    args = ["read"] + (["--summary"] if summary else []) + list(paths)
    proc = run_tool(*args)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == len(paths), (len(lines), len(paths))
    return lines


# ---------------------------------------------------------------- 1. modctx writes


def modctx_writes(tmp, rng):
    cases = []
    for i, name in enumerate(DTYPES):
        shape = [rng.randint(1, 4) for _ in range(rng.randint(0, 3))]
        cases.append(("dtype_" + name, {"inputs_embeds": (name, shape, i % 2 == 0)}, None, None))
    cases.append(("mot", {
        "prefix_embeds": ("BF16", [2, 3, 8], True),
        "modality_ids": ("I64", [2, 7], True),
        "key_padding_mask": ("BOOL", [2, 7], False),
    }, [3, None, None], {"tokens": [2, 4], "kv_caches": False}))
    cases.append(("cross", {
        "image_features": ("F16", [1, 5, 3], False),
        "image_mask": ("BOOL", [1, 5], True),
    }, [-4, 9, 2], {"tokens": None, "kv_caches": True}))
    cases.append(("empty_tensor", {"inputs_embeds": ("F32", [2, 0, 3], True)}, None, {"tokens": [], "kv_caches": False}))
    cases.append(("no_fields", {}, [None, None, -1], None))

    batch, expectations = [], []
    for label, fields, output_slice, forward in cases:
        path = os.path.join(tmp, label + ".safetensors")
        expected = {}
        spec = {"fields": {}, "output_slice": output_slice, "forward": forward}
        for field, (name, shape, contiguous) in fields.items():
            t = sample(name, shape, rng)
            expected[field] = t
            spec["fields"][field] = {"dtype": DTYPES[name][1], "shape": shape, "values": to_json_values(t),
                                     "contiguous": contiguous}
        batch.append({"path": path, "spec": spec})
        expectations.append((label, path, expected, output_slice, forward))
    proc = run_tool("write-batch", stdin=json.dumps(batch))
    check(proc.returncode == 0, "write-batch failed: %s %s" % (proc.stdout, proc.stderr))
    written = [json.loads(line) for line in proc.stdout.splitlines()]
    check(len(written) == len(batch), "write-batch wrote %d of %d" % (len(written), len(batch)))
    for (label, _, _, _, _), result in zip(expectations, written):
        check(result.get("ok") is True, "%s: write failed: %r" % (label, result))
    readable = []
    for label, path, expected, output_slice, forward in expectations:
        try:
            metadata, tensors, header_text = strict_read(path)
        except (AssertionError, ValueError, KeyError, OSError) as e:
            check(False, "%s: the strict reader refuses modctx's file: %r" % (label, e))
            continue
        readable.append((label, path, expected, output_slice, forward))
        want_meta = {"modctx.format": "1"}
        if output_slice is not None:
            want_meta["modctx.output_slice"] = "[%s]" % ", ".join("null" if v is None else str(v) for v in output_slice)
        if forward is not None:
            want_meta["modctx.forward"] = json.dumps(forward)
        check(metadata == want_meta, "%s: metadata %r, expected %r" % (label, metadata, want_meta))
        check(set(tensors) == set(expected), "%s: tensors %r" % (label, sorted(tensors)))
        for field, t in expected.items():
            if field in tensors:
                check(same(tensors[field], t), "%s: %s differs: %r vs %r" % (label, field, tensors[field], t))
        # Widest dtype first (alignment), as the reference writer orders them.
        header = json.loads(header_text)
        order = [k for k in header if k != "__metadata__"]
        widths = [DTYPES[header[k]["dtype"]][2] for k in order]
        check(widths == sorted(widths, reverse=True), "%s: tensors not ordered widest first: %r" % (label, order))
    # And modctx reads back what it wrote, zero copy.
    results = read_with_modctx([path for _, path, _, _, _ in readable])
    for (label, _, expected, output_slice, forward), back in zip(readable, results):
        check("error" not in back, "%s: modctx cannot read its own file: %r" % (label, back.get("error")))
        if "error" in back:
            continue
        for field, t in expected.items():
            got = back["fields"][field]
            check(got["zero_copy"] or t.numel() == 0, "%s: %s was copied" % (label, field))
            check(same(from_json_values(got["values"], got["dtype"], got["shape"]), t),
                  "%s: %s read back differs" % (label, field))
        check(back["output_slice"] == output_slice, "%s: output_slice %r" % (label, back["output_slice"]))
        check(back["forward"] == forward, "%s: forward %r" % (label, back["forward"]))
    return len(cases)


# ---------------------------------------------------------------- 2. others write


def others_write(tmp, rng):
    cases = []
    # Every dtype, each of the writer's variations.
    for i, name in enumerate(DTYPES):
        t = sample(name, [rng.randint(1, 3), rng.randint(1, 5)], rng)
        cases.append(("plain_" + name, {"inputs_embeds": t}, {}, None, None))
        cases.append(("nopad_" + name, {"image_features": t}, {"pad": False, "metadata": {"format": "pt"}}, None, None))
    mask = sample("BOOL", [2, 9], rng)
    ids = sample("I64", [2, 9], rng)
    prefix = sample("F32", [2, 4, 3], rng)
    cases.append(("misaligned", {"key_padding_mask": mask, "prefix_embeds": prefix, "modality_ids": ids},
                  {"align": False, "pad": False, "order": ["key_padding_mask", "prefix_embeds", "modality_ids"]},
                  None, None))
    cases.append(("holes_and_trailing", {"modality_ids": ids, "inputs_embeds": prefix},
                  {"hole": 8, "trailing": b"\xde\xad"}, None, None))
    cases.append(("modctx_metadata", {"prefix_embeds": prefix, "modality_ids": ids},
                  {"metadata": {"format": "pt", "modctx.format": "1", "modctx.output_slice": "[4, null, null]",
                                "modctx.forward": "{\"kv_caches\": false, \"tokens\": [2, 5]}"}},
                  [4, None, None], {"tokens": [2, 5], "kv_caches": False}))
    cases.append(("ignored_extra", {"inputs_embeds": prefix, "__lm_head__": ids}, {}, None, None))
    cases.append(("scalar", {"inputs_embeds": torch.tensor(2.5)}, {}, None, None))

    paths = []
    for label, tensors, options, _, _ in cases:
        path = os.path.join(tmp, "py_" + label + ".safetensors")
        write_file(path, tensors, **options)
        paths.append(path)
    # The construction checks still apply to what a file holds.
    routes_path = os.path.join(tmp, "py_routes.safetensors")
    write_file(routes_path, {"inputs_embeds": prefix, "prefix_embeds": prefix})
    results = read_with_modctx(paths + [routes_path])
    routes = results.pop()
    check(routes.get("check", {}).get("code") == "MODCTX_ERR_ROUTES", "routes: %r" % routes)
    for (label, tensors, options, output_slice, forward), result in zip(cases, results):
        check("error" not in result, "%s: modctx refuses the file: %r" % (label, result.get("error")))
        if "error" in result:
            continue
        fields = {k: v for k, v in tensors.items() if not k.startswith("__")}
        check(set(result["fields"]) == set(fields), "%s: fields %r" % (label, sorted(result["fields"])))
        for field, t in fields.items():
            got = result["fields"].get(field)
            if got is None:
                continue
            back = from_json_values(got["values"], got["dtype"], got["shape"])
            check(same(back, t), "%s: %s differs: %r vs %r" % (label, field, back, t))
            if options.get("align", True) and options.get("pad", True):   # else copied to align
                check(got["zero_copy"] or t.numel() == 0, "%s: %s was copied" % (label, field))
        check(result["output_slice"] == output_slice, "%s: output_slice %r" % (label, result["output_slice"]))
        check(result["forward"] == forward, "%s: forward %r" % (label, result["forward"]))
    return len(cases) + 1


# ---------------------------------------------------------------- 3. corrupted files


def corrupted(tmp, rng):
    good_path = os.path.join(tmp, "py_good.safetensors")
    write_file(good_path, {"prefix_embeds": sample("BF16", [2, 3, 4], rng), "modality_ids": sample("I64", [2, 7], rng),
                           "key_padding_mask": sample("BOOL", [2, 7], rng)},
               metadata={"modctx.output_slice": "[3, null, null]"})
    with open(good_path, "rb") as f:
        good = f.read()
    (n,) = struct.unpack("<Q", good[:8])
    blobs = []
    for size in range(len(good)):                   # every truncation
        blobs.append(("truncated to %d" % size, good[:size], True))
    for _ in range(600):                            # random byte changes in the header
        b = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(8 + n)] = rng.randrange(256)
        blobs.append(("mutated", bytes(b), False))
    for lie in [0, 1, n - 1, n + 1, n + 8, len(good) - 8, len(good) - 7, 2 ** 32, 2 ** 63, 2 ** 64 - 1]:
        blobs.append(("header length %d" % lie, struct.pack("<Q", lie) + good[8:], lie != n))
    paths = []
    for i, (_, blob, _) in enumerate(blobs):
        path = os.path.join(tmp, "bad%04d.safetensors" % i)
        with open(path, "wb") as f:
            f.write(blob)
        paths.append(path)
    results = read_with_modctx(paths, summary=True)
    refused = 0
    for (label, _, must_fail), result in zip(blobs, results):
        if "error" in result:
            refused += 1
            code = result["error"]["code"]
            check(code in ("MODCTX_ERR_FORMAT", "MODCTX_ERR_UNSUPPORTED"), "%s: code %s" % (label, code))
            check(result["error"]["message"].startswith(result["file"] + ": "), "%s: message %r" % (label, result["error"]))
        else:
            check(not must_fail, "%s: loaded" % label)
    print("corrupted files: %d, refused: %d" % (len(blobs), refused))
    return len(blobs)


def main():
    rng = random.Random(20240607)
    with tempfile.TemporaryDirectory(prefix="modctx-st-") as tmp:
        n1 = modctx_writes(tmp, rng)
        n2 = others_write(tmp, rng)
        n3 = corrupted(tmp, rng)
    print("modctx-written files: %d, Python-written files: %d, corrupted files: %d" % (n1, n2, n3))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all safetensors interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
