"""The package's import graph (top-level and in-function imports, ``TYPE_CHECKING`` blocks aside) has
no accidental cycles: the vocoders' and AP-BWE's model <-> engine cycles are broken; what is left is
listed here with its reason."""

from __future__ import annotations

import ast
from pathlib import Path

import audiokit

ROOT = Path(audiokit.__file__).resolve().parent

#: Cycles kept on purpose: the perturbation registry loads its built-in plug-ins on first use.
ALLOWED = [
    {"audiokit.perturb.base", "audiokit.perturb.time_domain", "audiokit.perturb.frequency_domain",
     "audiokit.perturb.amplitude_domain", "audiokit.perturb.ajailbench"},
    # red-teaming targets and judges (issue 16, merged from redteam): to be untangled by their owner
    {"audiokit.perturb.chat", "audiokit.perturb.judges",
     "audiokit.perturb.local", "audiokit.perturb.targets"},
]  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
            for child in node.body for n in ast.walk(child)}  # fmt: skip
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(head + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    # a package's __init__ only re-exports: an edge to it is an edge to what it re-exports, which
    # the imported names (``from pkg import module``) or the defining module's own imports give
    packages = {m for m, p in modules.items() if p.name == "__init__.py"}
    return {m for m in found if m in modules and m != name and m not in packages}


def _cycles() -> list[set[str]]:
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
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
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return out


def test_no_accidental_import_cycles():
    cycles = _cycles()
    unexpected = [c for c in cycles if not any(c <= a for a in ALLOWED)]
    assert not unexpected, f"import cycles: {[sorted(c) for c in unexpected]}"
