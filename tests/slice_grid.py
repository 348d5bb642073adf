"""Compares modctx's slices with Python's and PyTorch's over the whole grid:
start and stop in None and -12..12, step in None, 1, 2, 3, -1, 0, lengths 0..10.

usage: slice_grid.py SLICE_TABLE_PROGRAM
Python's own slice.indices is the oracle for the first half of each line;
PyTorch's h[:, s, :] (when torch imports) for the second.
"""
import subprocess
import sys


def parse(part):
    return None if part == "None" else int(part)


def python_indices(s, length):
    try:
        start, stop, step = s.indices(length)
    except ValueError as e:
        return "error: %s" % e
    return "%d %d %d %d" % (start, stop, step, len(range(start, stop, step)))


def torch_applied(torch, s, length):
    h = torch.empty(1, length, 2)
    try:
        return str(h[:, s, :].shape[1])
    except ValueError as e:
        return "error: %s" % e


def main():
    try:
        import torch
    except ImportError:
        torch = None
        print("note: torch is not importable here; comparing slice.indices only")
    out = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    assert len(lines) == 26 * 26 * 6 * 11, len(lines)
    bad = 0
    for line in lines:
        query, answer = line.split(" -> ")
        start, stop, step, length = query.split(" ")
        s = slice(parse(start), parse(stop), parse(step))
        ours_indices, ours_applied = answer.split(" | ")
        expected = python_indices(s, int(length))
        if ours_indices != expected:
            bad += 1
            print("indices %s len %s: modctx %r, Python %r" % (s, length, ours_indices, expected))
        if torch is not None:
            expected = torch_applied(torch, s, int(length))
            if ours_applied != expected:
                bad += 1
                print("h[:, %s, :] len %s: modctx %r, PyTorch %r" % (s, length, ours_applied, expected))
    print("%d cases, %d disagreements" % (len(lines), bad))
    sys.exit(1 if bad else 0)


main()
