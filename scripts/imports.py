#!/usr/bin/env python3
"""The import graph of src/ (issue 10): which file uses which, and any circle.

A file uses another when it names it as `crate::NAME` (or `super::NAME` inside a module
directory, or declares `mod NAME;`). Prints the number of files and imports, every circle
(strongly connected set of more than one file), and exits 1 if there is one.
Usage: python3 scripts/imports.py [SRC]   (default: src)
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "src"
files = {}
for root, _, names in os.walk(src):
    for name in names:
        if name.endswith(".rs"):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)[:-3]
            # module path: src/probe/mod.rs -> probe, src/probe/tls.rs -> probe::tls
            parts = rel.split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            files["::".join(parts) or rel] = path

def module_of(name):
    """The longest module path that is a file, for a path like `probe::tls::Trace`."""
    parts = name.split("::")
    for n in range(len(parts), 0, -1):
        cand = "::".join(parts[:n])
        if cand in files:
            return cand
    return None

edges = {m: set() for m in files}
for mod, path in files.items():
    text = open(path, encoding="utf-8").read()
    # drop comments and the tests module, whose imports are not the code's
    text = re.sub(r"//[^\n]*", "", text)
    text = text.split("#[cfg(test)]\nmod tests")[0]
    parent = mod.rsplit("::", 1)[0] if "::" in mod else ""
    for m in re.finditer(r"\bcrate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)", text):
        target = module_of(m.group(1))
        if target and target != mod:
            edges[mod].add(target)
    for m in re.finditer(r"\buse crate::\{([^}]*)\}", text):
        for item in re.split(r"[,\s]+", m.group(1)):
            target = module_of(item.split("::")[0]) if item else None
            if target and target != mod:
                edges[mod].add(target)
    for m in re.finditer(r"\bsuper::([a-z_][a-z0-9_]*)", text):
        target = module_of(f"{parent}::{m.group(1)}" if parent else m.group(1))
        if target and target != mod:
            edges[mod].add(target)

# Tarjan's strongly connected components
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in files:
    if v not in index:
        visit(v)
circles = [sorted(c) for c in sccs if len(c) > 1]
print(f"{len(files)} files, {sum(len(e) for e in edges.values())} imports between them, {len(circles)} circles")
for c in circles:
    print("circle:", " -> ".join(c))
sys.exit(1 if circles else 0)
