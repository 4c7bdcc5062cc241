#!/usr/bin/env python3
"""Finds import loops between the source files of each crate.

A file "uses" another when it names a path into it (`use crate::a::b`, `crate::a::b::f()`,
`super::x`, `self::x` from a mod.rs). Parent modules naming their children with `mod x;` and
re-exports (`pub use`) in a mod.rs / lib.rs do not count: a parent re-exporting its children is
the module tree, not a dependency. Every strongly connected group of two or more files is a
loop; the script prints each and exits 1 when there is one.

Usage: tests/tools/module_cycles.py [crates/NAME ...]   (default: every crate)
"""

import re
import sys
from pathlib import Path

USE_RE = re.compile(r"\b(crate|super|self)((?:::\w+)+)")
# A `use` item may list several paths in braces: use crate::a::{b, c::d};
USE_ITEM_RE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M | re.S)


def module_of(src: Path, file: Path) -> tuple:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand_use(tree: str) -> list:
    """Expands `a::{b, c::{d, e}}` into ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start is not None:
                prefix = tree[:start]
                inner = tree[start + 1 : i]
                rest = tree[i + 1 :]
                parts, d, cur = [], 0, ""
                for c in inner:
                    if c == "," and d == 0:
                        parts.append(cur)
                        cur = ""
                        continue
                    d += c == "{"
                    d -= c == "}"
                    cur += c
                if cur:
                    parts.append(cur)
                out = []
                for p in parts:
                    p = "" if p == "self" else p
                    joined = prefix + p if p else prefix.rstrip(":")
                    out.extend(expand_use(joined + rest))
                return out
    return [tree]


def resolve(path_parts: tuple, modules: dict) -> tuple:
    """The longest module prefix of path_parts that is a file."""
    for n in range(len(path_parts), -1, -1):
        if path_parts[:n] in modules:
            return path_parts[:n]
    return ()


def strip_tests(text: str) -> str:
    # Test modules may use anything; they are not part of the structure. Comments (docs
    # naming other modules) are not uses either.
    m = re.search(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)
    text = text[: m.start()] if m else text
    return re.sub(r"//[^\n]*", "", text)


def crate_graph(crate: Path) -> dict:
    src = crate / "src"
    files = [f for f in src.rglob("*.rs") if "tests" not in f.relative_to(src).parts]
    modules = {module_of(src, f): f for f in files}
    graph = {m: set() for m in modules}
    for mod, file in modules.items():
        text = strip_tests(file.read_text())
        is_parent = file.name in ("mod.rs", "lib.rs", "main.rs")
        paths = []
        for item in USE_ITEM_RE.finditer(text):
            public = item.group(1) is not None
            for p in expand_use(item.group(2)):
                paths.append((p, public))
        body = USE_ITEM_RE.sub("", text)
        for m in USE_RE.finditer(body):
            paths.append((m.group(1) + m.group(2), False))
        # Names a `use` brought in (`use crate::handlers;` then `handlers::fetch::handle()`).
        aliases = {}
        for p, _ in list(paths):
            segs = [x for x in p.split("::") if x]
            if segs and segs[0] in ("crate", "super", "self") and len(segs) > 1:
                last = segs[-1]
                alias = last.split("as")[-1] if "as" in last and False else last
                if re.fullmatch(r"[a-z_][a-z0-9_]*", alias) and alias not in ("self", "super", "crate"):
                    aliases[alias] = "::".join(segs)
        for alias, full in aliases.items():
            for m in re.finditer(r"(?<![\w:])" + alias + r"((?:::\w+)+)", body):
                paths.append((full + m.group(1), False))
        for p, public in paths:
            segs = [s for s in p.split("::") if s]
            if not segs or segs[0] not in ("crate", "super", "self"):
                continue
            # `self::` in a non-parent file names its own items (or nested inline modules).
            if segs[0] == "self" and not is_parent:
                continue
            if segs[0] == "crate":
                base, rest = (), segs[1:]
            else:
                base = mod if segs[0] == "self" else mod
                rest = segs[1:]
                if segs[0] == "super":
                    base = mod[:-1] if not is_parent else mod[:-1]
                    while rest and rest[0] == "super":
                        base, rest = base[:-1], rest[1:]
            target = resolve(tuple(base) + tuple(r for r in rest if r != "*"), modules)
            if target == mod:
                continue
            # A parent naming (or re-exporting) its own descendants is the tree, not a use.
            if is_parent and target[: len(mod)] == mod and (public or len(target) > len(mod)):
                if public:
                    continue
            graph[mod].add(target)
    return graph


def sccs(graph: dict) -> list:
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def name(mod: tuple) -> str:
    return "::".join(mod) or "lib"


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    crates = [Path(a) for a in sys.argv[1:]] or sorted((root / "crates").iterdir())
    found = 0
    for crate in crates:
        if not (crate / "src").is_dir():
            continue
        graph = crate_graph(crate)
        # Loops between sibling modules at every level (e.g. produce/ <-> fetch/), found by
        # folding each file edge onto the children of the modules the two ends share.
        folded = {}
        for a, targets in graph.items():
            for b in targets:
                k = 0
                while k < len(a) and k < len(b) and a[k] == b[k]:
                    k += 1
                if k < len(a) and k < len(b):
                    folded.setdefault(a[: k + 1], set()).add(b[: k + 1])
                    folded.setdefault(b[: k + 1], set())
        for comp in sccs(folded):
            if all(m in graph and not any(o[: len(m)] == m and o != m for o in graph) for m in comp):
                continue  # plain files: reported below
            found += 1
            print(f"{crate.name}: loop of {len(comp)} modules:")
            for m in sorted(comp):
                uses = sorted(name(t) for t in folded[m] if t in comp)
                print(f"  {name(m)}/ -> {', '.join(uses)}")
        for comp in sccs(graph):
            found += 1
            members = sorted(comp)
            print(f"{crate.name}: loop of {len(members)} files:")
            for m in members:
                uses = sorted(name(t) for t in graph[m] if t in comp)
                print(f"  {name(m)} -> {', '.join(uses)}")
    if not found:
        print("no import loops")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
