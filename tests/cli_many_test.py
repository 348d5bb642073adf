"""`modctx check PATH...` on many files and directories (issue 13): the walk
(nested folders, byte order, symbolic link loops, FIFOs, sockets, dangling
links, unreadable files and folders, non-UTF-8 names), the text output and
its summary, --verbose, --format json parsed back and compared with the
one-file checker's verdicts, and the exit status for each mix of files.

usage: cli_many_test.py MODCTX EXAMPLES_DIR   (EXAMPLES_DIR: the examples/ folder)

Progress lines need a terminal and a run longer than a second: this test
checks only that nothing reaches standard error when it is not a terminal
(every run below captures it); a timed run on a terminal is not tested.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

MODCTX, EXAMPLES = sys.argv[1], sys.argv[2]
CONTEXTS = os.path.join(EXAMPLES, "contexts")
FILES = os.path.join(EXAMPLES, "files")

failures = 0
passed = 0


def expect(name, ok, detail=""):
    global failures, passed
    if ok:
        passed += 1
    else:
        failures += 1
        print("FAIL %s%s" % (name, (": " + detail) if detail else ""))


def run(args, stdin=None, prefix=()):
    r = subprocess.run(list(prefix) + [MODCTX] + [a if isinstance(a, bytes) else a.encode() for a in args],
                       input=stdin, capture_output=True)
    return r


def read(path):
    with open(path, "rb") as f:
        return f.read()


ROUTES = ("ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
          "(mutually exclusive residual-stream routes)")
MOT_DESCRIBE = ("ModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0, output_slice=slice(576, None, "
                "None), modality_ids=Tensor[2, 600] int64 cuda:0)")
TEXT_DESCRIBE = "ModalityContext()"
ST_DESCRIBE = ("ModalityContext(prefix_embeds=Tensor[1, 2, 4] bfloat16 cpu, output_slice=slice(2, None, None), "
               "modality_ids=Tensor[1, 4] int64 cpu, key_padding_mask=Tensor[1, 4] bool cpu)")

scratch = tempfile.mkdtemp(prefix="modctx-many-test-")
os.chmod(scratch, 0o755)
TREE = os.path.join(scratch, "tree")


def put(rel, data):
    path = os.path.join(TREE.encode(), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---- The tree: nested folders, every kind of entry.
put(b"README.txt", b"not a context: not checked")
put(b"a/valid_mot.json", read(os.path.join(CONTEXTS, "mot.json")))
put(b"a/b/c/deep_valid.json", read(os.path.join(CONTEXTS, "text_only.json")))
put(b"a/b/c/data.bin", b"\x00\x01")
put(b"a/b/invalid_routes.json", read(os.path.join(CONTEXTS, "invalid_routes.json")))
put(b"a/b/malformed.json", b"{")
put(b"a/dup.json", b'{"fields": {"prefix_embeds": null, "prefix_embeds": null}}')
put(b"a/empty.json", b"")
put(b"bad\xff.json", read(os.path.join(CONTEXTS, "text_only.json")))
put(b'q"uote.json', read(os.path.join(CONTEXTS, "text_only.json")))
put(b"files/mot.safetensors", read(os.path.join(FILES, "mot.safetensors")))
put(b"files/truncated.safetensors", read(os.path.join(FILES, "mot.safetensors"))[:100])
os.symlink(".", os.path.join(TREE, "loop"))                 # a loop back to the top
os.symlink("a", os.path.join(TREE, "link_to_a"))            # a folder already walked: skipped
os.symlink("a/valid_mot.json", os.path.join(TREE, "alias.json"))  # a link to a file: followed
os.symlink("loopy", os.path.join(TREE, "loopy"))            # a link to itself, without a context's name
os.symlink("self.json", os.path.join(TREE, "self.json"))    # a link to itself
os.symlink("missing", os.path.join(TREE, "dangling.json"))  # a link to nothing
os.mkfifo(os.path.join(TREE, "fifo.json"))                  # never opened inside a walk (it would block)
sock = socket.socket(socket.AF_UNIX)
sock.bind(os.path.join(TREE, "sock.json"))
# Names in UTF-8 (two, three and four bytes) and not: an overlong form, a
# surrogate, a cut sequence (and bad\xff.json above).
NAMES = [b"\xc0\xaf.json", "\u00e9.json".encode(), b"\xe6\x97.json", "\u65e5\u672c.json".encode(), b"\xed\xa0\x80.json",
         "\U0001F600.json".encode()]
for name in NAMES:
    put(name, read(os.path.join(CONTEXTS, "text_only.json")))

T = TREE + "/"
CANNOT_READ_ENOENT = "cannot read: No such file or directory"
# In walk order (byte order of names, depth first): (path, status, code, message or describe).
EXPECTED = [
    (T + "a/b/c/deep_valid.json", "valid", None, TEXT_DESCRIBE),
    (T + "a/b/invalid_routes.json", "invalid", "MODCTX_ERR_ROUTES", ROUTES),
    (T + "a/b/malformed.json", "unreadable", "MODCTX_ERR_FORMAT",
     "malformed JSON: parse error at line 1, column 2: syntax error while parsing object key - unexpected end of "
     "input; expected string literal"),
    (T + "a/dup.json", "unreadable", "MODCTX_ERR_FORMAT",
     '/fields/prefix_embeds: duplicate key "prefix_embeds" (a key may appear once in an object)'),
    (T + "a/empty.json", "unreadable", "MODCTX_ERR_FORMAT",
     "malformed JSON: parse error at line 1, column 1: syntax error while parsing value - unexpected end of input; "
     "expected '[', '{', or a literal"),
    (T + "a/valid_mot.json", "valid", None, MOT_DESCRIBE),
    (T + "alias.json", "valid", None, MOT_DESCRIBE),
    (T + "bad\udcff.json", "valid", None, TEXT_DESCRIBE),
    (T + "dangling.json", "unreadable", "MODCTX_ERR_IO", CANNOT_READ_ENOENT),
    (T + "fifo.json", "unreadable", "MODCTX_ERR_IO", "a FIFO, not read inside a directory (name it to read it)"),
    (T + "files/mot.safetensors", "valid", None, ST_DESCRIBE),
    (T + "files/truncated.safetensors", "unreadable", "MODCTX_ERR_FORMAT",
     "header length 352 exceeds the file (92 bytes after the 8-byte length)"),
    (T + "loop", "unreadable", "MODCTX_ERR_IO", "symbolic link loop: leads back to %s; not followed" % TREE),
    (T + "loopy", "unreadable", "MODCTX_ERR_IO", "symbolic link loop: Too many levels of symbolic links"),
    (T + 'q"uote.json', "valid", None, TEXT_DESCRIBE),
    (T + "self.json", "unreadable", "MODCTX_ERR_IO", "cannot read: Too many levels of symbolic links"),
    (T + "sock.json", "unreadable", "MODCTX_ERR_IO", "a socket, not a file; not read"),
] + [(T + os.fsdecode(name), "valid", None, TEXT_DESCRIBE) for name in NAMES]  # NAMES is in byte order


def fs(path):
    """A test's path (str, surrogate-escaped) as the bytes the checker prints."""
    return os.fsencode(path)


def text_lines(expected, verbose=False):
    out = b""
    for path, status, code, message in expected:
        if status != "valid":
            out += fs(path) + b": " + code.encode() + b": " + message.encode() + b"\n"
        elif verbose:
            out += fs(path) + b": OK\n"
    return out


def summary(expected):
    n = len(expected)
    v = sum(1 for e in expected if e[1] == "valid")
    i = sum(1 for e in expected if e[1] == "invalid")
    return ("%d checked: %d valid, %d invalid, %d unreadable\n" % (n, v, i, n - v - i)).encode()


# ---- Text output, the summary, the exit status; standard error stays empty.
r = run(["check", TREE])
want = text_lines(EXPECTED) + summary(EXPECTED)
expect("text output of the tree", (r.returncode, r.stdout, r.stderr) == (2, want, b""),
       "\n%r\nwanted\n%r" % ((r.returncode, r.stdout, r.stderr), want))
again = run(["check", TREE])
expect("the same order on a second run", again.stdout == r.stdout)
r = run(["check", "--verbose", TREE])
want = text_lines(EXPECTED, verbose=True) + summary(EXPECTED)
expect("--verbose", (r.returncode, r.stdout, r.stderr) == (2, want, b""), repr((r.returncode, r.stdout, r.stderr)))

# ---- JSON lines, parsed back.
r = run(["check", "--format", "json", TREE])
expect("--format json: exit 2, nothing on standard error", (r.returncode, r.stderr) == (2, b""), repr(r))
lines = r.stdout.decode("utf-8").splitlines()  # strictly UTF-8, even with a non-UTF-8 name
expect("--format json: one line per file", len(lines) == len(EXPECTED), "%d lines" % len(lines))
for line, (path, status, code, message) in zip(lines, EXPECTED):
    obj = json.loads(line)
    name_bytes = fs(path)
    want = {"path": name_bytes.decode("utf-8", "replace"), "status": status,
            "code": code, "message": None if status == "valid" else message}
    if status == "valid":
        want["describe"] = message
    try:
        name_bytes.decode("utf-8")
    except UnicodeDecodeError:
        want["path_bytes"] = base64.b64encode(name_bytes).decode()
    expect("--format json line for %r" % path, obj == want, "\n%r\nwanted\n%r" % (obj, want))
    if "path_bytes" in obj:
        expect("path_bytes gives the exact name back", base64.b64decode(obj["path_bytes"]) == name_bytes)

# ---- Each verdict is the one-file checker's.
for path, status, code, message in EXPECTED:
    if path.endswith("/loop") or path.endswith("/loopy") or path.endswith("/fifo.json"):
        continue  # a folder is walked, a loop is no file; a FIFO named alone is read (it would wait for a writer)
    one = run(["check", fs(path)])
    if status == "valid":
        ok = (one.returncode, one.stdout) == (0, b"OK\n" + message.encode() + b"\n")
    elif status == "invalid":
        ok = (one.returncode, one.stdout) == (1, ("%s\n%s\n" % (code, message)).encode())
    else:
        ok = one.returncode == 2 and one.stdout == b"" and one.stderr.startswith(b"modctx: ")
        ok = ok and message.replace("cannot read: ", "").encode() in one.stderr
    expect("one-file verdict of %r agrees" % path, ok, repr((one.returncode, one.stdout, one.stderr)))

# ---- Exit status for each mix (files named on the command line, and -).
V1, V2 = os.path.join(CONTEXTS, "mot.json"), os.path.join(CONTEXTS, "text_only.json")
INV = os.path.join(CONTEXTS, "invalid_routes.json")
MAL, EMPTY = fs(T + "a/b/malformed.json"), fs(T + "a/empty.json")
# (paths, exit status, exact standard output or None; --format json gives one line per file)
MIXES = [
    ([V1, V2], 0, b"2 checked: 2 valid, 0 invalid, 0 unreadable\n"),
    ([V1, INV, V2], 1, (INV + ": MODCTX_ERR_ROUTES: " + ROUTES + "\n").encode() +
     b"3 checked: 2 valid, 1 invalid, 0 unreadable\n"),
    ([V1, INV, MAL], 2, None),
    ([V1, EMPTY], 2, None),
    ([MAL, EMPTY], 2, b"%s: MODCTX_ERR_FORMAT: malformed JSON: parse error at line 1, column 2: syntax error while "
                      b"parsing object key - unexpected end of input; expected string literal\n"
                      b"%s: MODCTX_ERR_FORMAT: malformed JSON: parse error at line 1, column 1: syntax error while "
                      b"parsing value - unexpected end of input; expected '[', '{', or a literal\n"
                      b"2 checked: 0 valid, 0 invalid, 2 unreadable\n" % (MAL, EMPTY)),
    ([FILES], 0, b"2 checked: 2 valid, 0 invalid, 0 unreadable\n"),  # one directory, two files
]
for paths, status, stdout in MIXES:
    r = run(["check"] + paths)
    expect("exit status %d for %r" % (status, paths), r.returncode == status and r.stderr == b"" and
           (stdout is None or r.stdout == stdout), repr(r))
    r = run(["check", "--format", "json"] + paths)
    statuses = [json.loads(line)["status"] for line in r.stdout.decode().splitlines()]
    expect("--format json exit status %d for %r" % (status, paths),
           r.returncode == status and r.stderr == b"" and len(statuses) == (2 if paths == [FILES] else len(paths)),
           repr(r))

# Standard input among files.
r = run(["check", "-", V1], stdin=read(INV))
expect("- among files", (r.returncode, r.stdout) == (1, ("-: MODCTX_ERR_ROUTES: " + ROUTES + "\n").encode() +
                                                     b"2 checked: 1 valid, 1 invalid, 0 unreadable\n"), repr(r))
# The options apply to every file.
r = run(["check", "--format", "json", "--model", '{"arch": "mot", "hidden_size": 4, "num_modalities": 2}', "--values",
         os.path.join(FILES, "mot.safetensors"), os.path.join(FILES, "mot_bad_modality_ids.safetensors")])
got = [(o["status"], o["code"], o["message"]) for o in map(json.loads, r.stdout.decode().splitlines())]
expect("--values and --model on every file", r.returncode == 1 and got == [
    ("valid", None, None),
    ("invalid", "MODCTX_ERR_VALUE", "modality.modality_ids values must be in [0, 2), found 2")], repr(r))
r = run(["check", "--forward", "tokens=2,24", V1, INV])
expect("--forward on every file", r.returncode == 1 and r.stdout.endswith(b"2 checked: 1 valid, 1 invalid, 0 unreadable\n"),
       repr(r))

# Usage errors: a path among several that does not exist (nothing is checked), - twice.
r = run(["check", V1, os.path.join(scratch, "nope.json")])
expect("a missing path among several", r.returncode == 2 and r.stdout == b"" and
       b"nope.json: No such file or directory" in r.stderr and b"usage: modctx check" in r.stderr, repr(r))
r = run(["check", "-", "-"], stdin=b"{}")
expect("- twice", r.returncode == 2 and r.stdout == b"" and b"given more than once" in r.stderr, repr(r))
os.mkdir(os.path.join(scratch, "nothing"))
put(b"../nothing/notes.txt", b"x")
r = run(["check", os.path.join(scratch, "nothing")])
expect("a directory without contexts", r.returncode == 2 and r.stdout == b"" and
       b"no .json or .safetensors file in" in r.stderr, repr(r))

# ---- Unreadable by permissions: a file and a folder. Root reads anything, so
# as root the checker runs as nobody (setpriv); where that cannot work, the
# case is skipped with the reason.
locked = os.path.join(scratch, "locked")
os.makedirs(os.path.join(locked, "closed"))
shutil.copy(V2, os.path.join(locked, "ok.json"))
shutil.copy(V2, os.path.join(locked, "secret.json"))
shutil.copy(V2, os.path.join(locked, "closed", "inside.json"))
os.chmod(locked, 0o755)
os.chmod(os.path.join(locked, "ok.json"), 0o644)
os.chmod(os.path.join(locked, "secret.json"), 0o000)
os.chmod(os.path.join(locked, "closed"), 0o000)
prefix, skip = (), None
if os.geteuid() == 0:
    setpriv = shutil.which("setpriv")
    prefix = (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups") if setpriv else ()
    probe = run(["--version"], prefix=prefix) if setpriv else None
    if not setpriv:
        skip = "running as root and setpriv (util-linux) is not installed: root reads any file"
    elif probe.returncode != 0:
        skip = "running as root, and as nobody the checker cannot run (%s)" % probe.stderr.decode(errors="replace").strip()
if skip:
    print("SKIP unreadable file and folder by permissions: " + skip)
else:
    r = run(["check", locked], prefix=prefix)
    # In a coverage build, nobody cannot write the build's .gcda files: gcov
    # says so on standard error ("profiling: ...: Cannot open"); only that is ignored.
    r.stderr = b"".join(line for line in r.stderr.splitlines(True) if not line.startswith(b"profiling:"))
    # The folder that cannot be listed counts as one unreadable entry.
    want = ("%s/closed: MODCTX_ERR_IO: cannot list the directory: Permission denied\n"
            "%s/secret.json: MODCTX_ERR_IO: cannot read: Permission denied\n"
            "3 checked: 1 valid, 0 invalid, 2 unreadable\n" % (locked, locked)).encode()
    expect("unreadable file and folder", (r.returncode, r.stdout, r.stderr) == (2, want, b""),
           "\n%r\nwanted\n%r" % ((r.returncode, r.stdout, r.stderr), want))

sock.close()
os.chmod(os.path.join(locked, "closed"), 0o755)
shutil.rmtree(scratch)
print("%d passed, %d failed" % (passed, failures))
sys.exit(1 if failures else 0)
