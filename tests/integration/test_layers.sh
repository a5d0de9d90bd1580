#!/usr/bin/env bash
# host/'s shape holds (host/README.md): every file in a folder of a known layer (only main.c,
# README.md and CMakeLists.txt directly in host/), each folder including only its own headers
# and those of the layers below it (so no include circle between folders can form), every C
# file named in its folder's CMakeLists.txt, none over 700 lines, and every folder in the README.
. "$(dirname "$0")/lib.sh"

python3 - "$MAYFLY_SOURCE_DIR/host" >"$WORK/results" 2>&1 <<'PY'
import os, re, sys

host = sys.argv[1]
# Lowest first. A folder may include its own headers and those of the folders of lower layers;
# folders of one layer know nothing of one another.
LAYERS = [["base"], ["observe"], ["event"], ["http", "redis", "client"], ["lua"], ["lua/api"],
          ["app"], ["serve"], ["cmd"]]
rank = {f: i for i, layer in enumerate(LAYERS) for f in layer}
TOP_FILES = {"main.c", "README.md", "CMakeLists.txt"}
MAX_LINES = 700
results = []

def check(name, ok, detail=""):
    results.append((name, ok, detail))

def folder_of(rel):
    d = os.path.dirname(rel)
    return d if d else None

sources = []
for dirpath, _, files in os.walk(host):
    for f in files:
        rel = os.path.relpath(os.path.join(dirpath, f), host)
        folder = folder_of(rel)
        if folder is None:
            check(f"host/{rel} may sit directly in host/", f in TOP_FILES, "move it into a folder")
            if f.endswith((".c", ".h")) and f in TOP_FILES:
                sources.append(rel)
        elif f.endswith((".c", ".h")):
            check(f"host/{rel} is in a folder of a known layer", folder in rank,
                  f"{folder}/ is in no layer of this check and host/README.md")
            sources.append(rel)

edges = {}
for rel in sorted(sources):
    folder = folder_of(rel) or "main"
    text = open(os.path.join(host, rel), encoding="utf-8").read()
    for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.M):
        target = folder_of(inc)
        if not os.path.exists(os.path.join(host, inc)):
            check(f"host/{rel} includes {inc} by its path from host/", False,
                  "quoted includes name host/'s headers as folder/name.h")
            continue
        edges.setdefault((folder, target), []).append(rel)
        if folder == "main" or target == folder:
            continue
        ok = target in rank and folder in rank and rank[target] < rank[folder]
        check(f"host/{rel} may include {inc}", ok,
              f"{folder}/ is not above {target}/: move the code to the layer that owns it")
    if rel.endswith(".c"):
        n = text.count("\n")
        check(f"host/{rel} has at most {MAX_LINES} lines", n <= MAX_LINES, f"{n} lines")

# The folder graph has no cycle (implied by the order above; checked on its own so that a
# change to LAYERS cannot let one in).
graph = {}
for (a, b) in edges:
    if a != b:
        graph.setdefault(a, set()).add(b)
state, stack, cycle = {}, [], []
def visit(n):
    state[n] = 1; stack.append(n)
    for m in sorted(graph.get(n, ())):
        if state.get(m) == 1 and not cycle:
            cycle.extend(stack[stack.index(m):] + [m])
        elif m not in state:
            visit(m)
    stack.pop(); state[n] = 2
for n in sorted(graph):
    if n not in state:
        visit(n)
check("no include circle between host/'s folders", not cycle, " -> ".join(cycle))

# Each folder's CMakeLists.txt names its sources (no glob): a file is built because it is listed.
listed = set()
for dirpath, _, files in os.walk(host):
    if "CMakeLists.txt" in files:
        folder = os.path.relpath(dirpath, host)
        text = open(os.path.join(dirpath, "CMakeLists.txt"), encoding="utf-8").read()
        for block in re.findall(r"target_sources\(mayfly_core PRIVATE([^)]*)\)", text):
            listed.update(os.path.normpath(os.path.join(folder, f)) for f in block.split())
for rel in sorted(sources):
    if rel.endswith(".c") and rel != "main.c":
        check(f"host/{folder_of(rel)}/CMakeLists.txt names host/{rel}", rel in listed)
for rel in sorted(listed):
    check(f"host/{rel}, listed in its folder's CMakeLists.txt, exists",
          os.path.exists(os.path.join(host, rel)))

readme_path = os.path.join(host, "README.md")
readme = open(readme_path, encoding="utf-8").read() if os.path.exists(readme_path) else ""
for f in rank:
    check(f"host/README.md describes {f}/", f"`{f}/`" in readme)

for name, ok, detail in results:
    print(f"{'ok' if ok else 'not ok'}\t{name}\t{detail}")
PY
checks_report "$WORK/results"
mf_finish
