"""Times `modctx check` on many files in one invocation (docs/PERFORMANCE.md,
"The checker on many files").

usage: python3 bench/checker_many.py MODCTX [--json N] [--safetensors M] [--runs R] [--keep DIR]

Generates, in a temporary folder (or DIR with --keep):
  json/dNN/ctx_NNNNN.json         N small JSON contexts (default 10,000) in folders of 100:
                                  every bundled example (valid and invalid for each
                                  check), with varied shapes, and malformed documents
                                  (truncated, duplicate keys, unknown keys, bad dtypes,
                                  empty files)
  safetensors/dNN/st_NNNN.safetensors
                                  M safetensors files (default 1,000): valid MoT contexts,
                                  invalid ones (two routes), truncated ones
then times, R times each (default 5; wall time, median and best, and the CPU time, user +
system, of the process, median: wall time depends on what else the machine runs):
  - `modctx check json/`, `modctx check --format json json/`, `modctx check safetensors/`;
  - the start-up: `modctx check` on one small file;
  - the floor: reading and parsing the same files with nlohmann in one process
    (bench/read_parse_baseline.cpp, compiled here with c++ -O2).
Prints a Markdown table and the counts the checker reported.
"""
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples", "contexts")


def args():
    a = sys.argv[1:]
    if not a or a[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if a else 2)
    opts = {"modctx": os.path.abspath(a[0]), "json": 10000, "safetensors": 1000, "runs": 5, "keep": None}
    i = 1
    while i < len(a):
        key = a[i].lstrip("-")
        if key not in opts or i + 1 >= len(a):
            sys.exit("checker_many.py: unknown or incomplete option %s" % a[i])
        opts[key] = a[i + 1] if key == "keep" else int(a[i + 1])
        i += 2
    return opts


def json_documents(count, rng):
    """count documents (text), a deterministic mix: in each 20, 10 valid (the
    valid examples), 7 invalid (the invalid examples, one per check), 3
    malformed or empty."""
    valid, invalid = [], []
    for name in sorted(os.listdir(EXAMPLES)):
        with open(os.path.join(EXAMPLES, name)) as f:
            (invalid if name.startswith("invalid") else valid).append(json.load(f))
    malformed = [
        "",                                                     # empty file
        '{"fields": {"prefix_embeds": {"shape": [2, 5',         # truncated
        '{"fields": {"inputs_embeds": {"shape": [1, 2, 3], "dtype": "float32"}, "inputs_embeds": null}}',
        '{"feilds": {}}',
        '{"fields": {"prefix_embeds": {"shape": [1, 2, 3], "dtype": "floot32"}}}',
        '{"output_slice": [1, 2]}',
        "[]",
    ]
    out = []
    for i in range(count):
        kind = i % 20
        if kind < 17:
            doc = (valid[i % len(valid)] if kind < 10 else invalid[i % len(invalid)])
            # Vary the sizes a little (not the batch, nor what a model checks):
            # the same verdict, different bytes.
            text = json.dumps(doc, indent=1)
            out.append(text.replace("4096", str(4096 * (1 + rng.randrange(4)))) if "model" not in doc else text)
        else:
            out.append(malformed[i % len(malformed)])
    return out


def safetensors_bytes(kind):
    """A small safetensors file: 'valid' MoT, 'routes' (two routes), 'truncated'."""
    tensors = [("modality_ids", "I64", [1, 4], 8), ("prefix_embeds", "BF16", [1, 2, 4], 2),
               ("key_padding_mask", "BOOL", [1, 4], 1)]
    if kind == "routes":
        tensors.append(("inputs_embeds", "F32", [1, 2, 4], 4))
    header = {"__metadata__": {"modctx.format": "1", "modctx.output_slice": "[2, null, null]",
                               "modctx.forward": '{"tokens": [1, 2], "kv_caches": false}'}}
    offset = 0
    data = b""
    for name, dtype, shape, size in tensors:
        n = size
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        data += (b"\x01" if dtype == "BOOL" else b"\x00") * n
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    blob = struct.pack("<Q", len(text)) + text + data
    return blob[:100] if kind == "truncated" else blob


def generate(root, n_json, n_st):
    rng = random.Random(13)
    files = {"json": [], "safetensors": []}
    for i, text in enumerate(json_documents(n_json, rng)):
        d = os.path.join(root, "json", "d%03d" % (i // 100))
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "ctx_%05d.json" % i)
        with open(path, "w") as f:
            f.write(text)
        files["json"].append(path)
    for i in range(n_st):
        d = os.path.join(root, "safetensors", "d%03d" % (i // 100))
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "st_%04d.safetensors" % i)
        kind = "truncated" if i % 10 == 9 else "routes" if i % 10 == 8 else "valid"
        with open(path, "wb") as f:
            f.write(safetensors_bytes(kind))
        files["safetensors"].append(path)
    return files


def timed(cmd, runs, stdin_text=None):
    """(median wall, best wall, median CPU user+system) in seconds over runs."""
    walls, cpus = [], []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if stdin_text is not None:
            p.stdin.write(stdin_text.encode())
            p.stdin.close()
        _, _, usage = os.wait4(p.pid, 0)
        walls.append(time.perf_counter() - t)
        cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def main():
    o = args()
    root = o["keep"] or tempfile.mkdtemp(prefix="modctx-many-")
    os.makedirs(root, exist_ok=True)
    try:
        files = generate(root, o["json"], o["safetensors"])
        baseline = os.path.join(root, "read_parse_baseline")
        subprocess.run(["c++", "-O2", "-std=c++17", os.path.join(HERE, "read_parse_baseline.cpp"), "-o", baseline],
                       check=True)
        m = o["modctx"]
        one = os.path.join(EXAMPLES, "text_only.json")
        rows = []
        start = timed([m, "check", one], o["runs"])
        rows.append(("start-up: `modctx check` on one file", 1, start))
        for label, kind, cmd in (
                ("`modctx check json/`", "json", [m, "check", os.path.join(root, "json")]),
                ("`modctx check --format json json/`", "json", [m, "check", "--format", "json", os.path.join(root, "json")]),
                ("`modctx check safetensors/`", "safetensors", [m, "check", os.path.join(root, "safetensors")])):
            rows.append((label, len(files[kind]), timed(cmd, o["runs"])))
            rows.append(("read + parse only (%s files)" % kind, len(files[kind]),
                         timed([baseline], o["runs"], "\n".join(files[kind]) + "\n")))
        print("| what | files | wall, median (s) | wall, best (s) | CPU, median (s) | per file (us, CPU; modctx: start-up CPU subtracted) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for label, n, (med, best, cpu) in rows:
            per = (cpu - (start[2] if label.startswith("`modctx") else 0)) / n * 1e6
            print("| %s | %d | %.3f | %.3f | %.3f | %.1f |" % (label, n, med, best, cpu, per))
        for kind in ("json", "safetensors"):
            r = subprocess.run([m, "check", os.path.join(root, kind)], capture_output=True, text=True)
            print("\n%s: exit %d, %s" % (kind, r.returncode, r.stdout.strip().splitlines()[-1]))
    finally:
        if not o["keep"]:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
