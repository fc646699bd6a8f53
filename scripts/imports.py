#!/usr/bin/env python3
"""The crate's import structure, measured from src/: which file names which.

An arrow A -> B is any path in A's code (outside comments) that names module B: `use
crate::x::y`, `crate::x::y::f()`, `super::z`. A path resolves to the deepest module file that
exists, so `crate::ws::Hub` is an arrow to src/ws/mod.rs (a facade counts as the folder's
door). Printed: the import circles (files that reach each other), the arrows that run back up
the layers (the fewest arrows whose removal leaves no circle, by the Eades-Lin-Smyth greedy
order), and how many ordered pairs of top-level areas import each other.

    python3 scripts/imports.py            # the figures
    python3 scripts/imports.py --list     # and every circle's files and every upward arrow
    python3 scripts/imports.py --check    # fail if a circle passes 10 files or 20 arrows run up
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"


def module_of(path: Path) -> tuple:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod" or parts == ["lib"]:
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand_use(body: str) -> list:
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']"""
    body = body.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", body, flags=re.S)
    if not m:
        return [body.split(" as ")[0].strip()]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for item in items:
        item = item.strip()
        if item:
            out += [prefix + x for x in expand_use(item)]
    return out


def main() -> None:
    files = sorted(p for p in ROOT.rglob("*.rs") if p.name != "main.rs")
    modules = {module_of(p): p for p in files}

    def resolve(path: list) -> tuple:
        best = ()
        for i in range(1, len(path) + 1):
            if tuple(path[:i]) in modules:
                best = tuple(path[:i])
            else:
                break
        return best

    arrows = defaultdict(set)
    for p in files:
        me = module_of(p)
        here = me if p.name == "mod.rs" or p.name == "lib.rs" else me
        # `super` in a/b.rs (module a::b) is a; in a/mod.rs (module a) it is the parent.
        # Unit tests (`#[cfg(test)] mod tests`, at the end of a file) are not the module's
        # imports: their `super` is the file itself.
        text = strip_comments(p.read_text().split("#[cfg(test)]")[0])
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            paths += expand_use(m.group(1))
        paths += re.findall(r"\b((?:crate|super)(?:::\w+)+)", text)
        for raw in paths:
            segs = [s for s in re.split(r"::", raw.replace(" ", "").replace("\n", "")) if s]
            if not segs:
                continue
            if segs[0] == "crate":
                target = resolve(segs[1:])
            elif segs[0] == "super":
                base = list(here)
                while segs and segs[0] == "super":
                    base = base[:-1]
                    segs = segs[1:]
                target = resolve(base + segs)
                if len(target) < len(base):
                    target = tuple(base)
            elif segs[0] == "self":
                target = resolve(list(here) + segs[1:])
            else:
                continue
            if target in modules and target != me and target != ():
                # A module naming its own child (`mod x; x::f`) is inside, not an import.
                arrows[me].add(target)

    nodes = [m for m in modules if m != ()]
    edges = [(a, b) for a in nodes for b in arrows.get(a, ()) if b in modules and b != ()]

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in arrows.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    for v in nodes:
        if v not in index:
            visit(v)
    circles = sorted((c for c in sccs if len(c) > 1), key=len, reverse=True)

    # Eades-Lin-Smyth: an order of the files; arrows pointing against it run back up.
    out_e = defaultdict(set)
    in_e = defaultdict(set)
    for a, b in edges:
        out_e[a].add(b)
        in_e[b].add(a)
    left = set(nodes)
    s1, s2 = [], []
    while left:
        changed = True
        while changed:
            changed = False
            for v in sorted(left):
                if not (out_e[v] & left):
                    s2.insert(0, v)
                    left.discard(v)
                    changed = True
            for v in sorted(left):
                if not (in_e[v] & left):
                    s1.append(v)
                    left.discard(v)
                    changed = True
        if left:
            v = max(sorted(left), key=lambda u: len(out_e[u] & left) - len(in_e[u] & left))
            s1.append(v)
            left.discard(v)
    order = {v: i for i, v in enumerate(s1 + s2)}
    # The importer stands above what it imports: an arrow to a file later in the order is
    # downward; one to an earlier file runs back up.
    back = sorted((a, b) for a, b in edges if order[a] > order[b])

    areas = defaultdict(set)
    for a, b in edges:
        if a[0] != b[0]:
            areas[a[0]].add(b[0])
    n_areas = len({m[0] for m in nodes})
    pairs = sum(len(v) for v in areas.values())
    mutual = sum(1 for a in areas for b in areas[a] if a in areas.get(b, ()))

    name = lambda m: "src/" + "/".join(m) + (".rs" if modules[m].name != "mod.rs" else "/mod.rs")
    print(f"files: {len(nodes)}  arrows: {len(edges)}")
    print(f"largest circle: {len(circles[0]) if circles else 0} files  circles: {[len(c) for c in circles]}")
    print(f"arrows running back up: {len(back)}")
    print(f"top-level areas: {n_areas}  ordered pairs that import: {pairs}  of them mutual: {mutual}")
    if "--check" in sys.argv:
        largest = len(circles[0]) if circles else 0
        if largest > 10 or len(back) > 20:
            sys.exit(f"the layers slipped: a circle of {largest} files, {len(back)} arrows up "
                     "(at most 10 and 20; see --list)")
    if "--list" in sys.argv:
        for i, c in enumerate(circles, 1):
            print(f"circle {i}: " + ", ".join(sorted(name(m) for m in c)))
        for a, b in back:
            print(f"up: {name(a)} -> {name(b)}")


if __name__ == "__main__":
    main()
