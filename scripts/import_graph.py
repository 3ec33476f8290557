#!/usr/bin/env python3
"""The import graph of src/ between top-level modules (`crate::X` references outside tests),
and its cycles. Usage: scripts/import_graph.py [--dot]. Exit 1 when there is a cycle.

Issue 9 ("one-way imports"): every module may use the ones below it, never the reverse."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def top_module(path):
    rel = os.path.relpath(path, ROOT)
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def code_without_tests(text):
    # Unit tests may reach anywhere; cut `#[cfg(test)] mod tests { … }` and test files.
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


edges = {}
for dirpath, _, files in os.walk(ROOT):
    for f in files:
        if not f.endswith(".rs") or f == "tests.rs":
            continue
        path = os.path.join(dirpath, f)
        src = top_module(path)
        if src in ("main", "lib"):
            continue
        text = code_without_tests(open(path, encoding="utf-8").read())
        text = re.sub(r"//[^\n]*", "", text)  # doc links are not imports
        for m in re.finditer(r"crate::([a-z_]+)", text):
            dst = m.group(1)
            if dst != src:
                edges.setdefault(src, set()).add(dst)
        for m in re.finditer(r"use crate::\{([^}]*)\}", text):
            for dst in re.findall(r"(?:^|,)\s*([a-z_]+)", m.group(1)):
                if dst != src:
                    edges.setdefault(src, set()).add(dst)

cycles = []
def visit(node, stack, seen):
    for nxt in sorted(edges.get(node, ())):
        if nxt in stack:
            cyc = stack[stack.index(nxt):] + [nxt]
            if sorted(cyc[:-1]) not in [sorted(c[:-1]) for c in cycles]:
                cycles.append(cyc)
        elif nxt not in seen:
            seen.add(nxt)
            visit(nxt, stack + [nxt], seen)

for n in sorted(edges):
    visit(n, [n], {n})

if "--dot" in sys.argv:
    print("digraph imports {")
    for a in sorted(edges):
        for b in sorted(edges[a]):
            print(f"  {a} -> {b};")
    print("}")
else:
    for a in sorted(edges):
        print(f"{a} -> {', '.join(sorted(edges[a]))}")
print(f"{len(cycles)} cycles" + "".join(f"\n  {' -> '.join(c)}" for c in cycles))
sys.exit(1 if cycles else 0)
