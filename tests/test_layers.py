"""The package's layering, read from its own source: every import points down.

- no import cycles between the package's modules (imports inside functions count too: a cycle
  hidden in a function is still a cycle);
- nothing but ``cli.py`` imports ``cli``;
- SQL text lives in ``queries.py`` (and the short allow-list below, each entry with its reason).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "workbook"
SQL = re.compile(r"\b(SELECT\b[\s\S]*\bFROM|CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+)?(TABLE|VIEW|MACRO)|INSERT\s+INTO|"
                 r"COPY\s*\(|ATTACH\s|DETACH\s|PRAGMA\s|DESCRIBE\s|SET\s+\w+\s*=|DROP\s+(TABLE|VIEW))")
# module -> why SQL text may stay there
SQL_ALLOWED: dict[str, str] = {}


def modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for p in sorted(PACKAGE.glob("*.py"))}


def imports(tree: ast.Module, names: set[str]) -> set[str]:
    """The package modules a module imports (``from . import x``, ``from .x import y``, ``import workbook.x``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(a.name for a in node.names)
            elif node.module and node.module.startswith("workbook."):
                found.add(node.module.split(".")[1])
            elif node.module == "workbook":
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("workbook."):
                    found.add(alias.name.split(".")[1])
    return found & names


def graph() -> dict[str, set[str]]:
    mods = modules()
    names = set(mods) - {"__init__"}
    return {name: imports(tree, names) - {name} for name, tree in mods.items() if name != "__init__"}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def sql_strings(tree: ast.Module) -> list[tuple[int, str]]:
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SQL.search(node.value):
                found.append((node.lineno, node.value.strip().splitlines()[0][:80]))
    return found


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_only_cli_imports_cli():
    assert sorted(m for m, deps in graph().items() if "cli" in deps) == []


def test_sql_lives_in_queries():
    offenders = {}
    for name, tree in modules().items():
        if name in ("queries",) or name in SQL_ALLOWED:
            continue
        hits = sql_strings(tree)
        if hits:
            offenders[name] = hits
    assert offenders == {}


def test_the_checks_can_fail():
    """The detectors themselves: a made-up cycle, a cli import and SQL text are caught."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse('from . import cli\nfrom .x import y\nQ = "SELECT a FROM t"\n')
    assert imports(tree, {"cli", "x"}) == {"cli", "x"}
    assert sql_strings(tree) == [(3, "SELECT a FROM t")]
    assert sql_strings(ast.parse('def f():\n    """SELECT the rows FROM the table."""\n')) == []


LONG_REASON = "Why this is long:"
MAX_LINES = 60


def long_functions(tree: ast.Module) -> list[tuple[str, int]]:
    """Functions over MAX_LINES lines whose docstring does not say why (``Why this is long: ...``)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_LINES and LONG_REASON not in (ast.get_docstring(node) or ""):
                out.append((node.name, lines))
    return out


def test_no_function_over_60_lines_without_a_reason():
    offenders = {name: hits for name, tree in modules().items() if (hits := long_functions(tree))}
    assert offenders == {}


def test_long_function_detector():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    assert long_functions(ast.parse(f"def f():\n{body}\n")) == [("f", MAX_LINES + 1)]
    assert long_functions(ast.parse(f'def f():\n    """{LONG_REASON} a table of cases."""\n{body}\n')) == []


# The layers of docs/architecture.md, bottom first: a module may import its own layer or lower.
LAYERS = {
    "bottom": {"errors", "iofmt", "params", "scoring", "display"},
    "data": {"contract", "queries", "workspace", "spark", "engines", "periods"},
    "domain": {"adoption", "signals", "health", "_kpi", "metrics", "kpis", "post_cycle", "calibration",
               "snapshots", "evaluation", "weights", "wins", "events", "sample", "activity", "members",
               "explanation", "revenue", "renewals", "expansion"},
    "presentation": {"narrative", "plots", "tables", "quality", "reporting", "report"},
    "top": {"cli"},
}


def test_every_import_points_down_the_layers():
    rank = {m: i for i, (_, members) in enumerate(LAYERS.items()) for m in members}
    g = graph()
    assert set(g) == set(rank), "a module is missing from LAYERS (and docs/architecture.md)"
    upward = sorted((m, d) for m, deps in g.items() for d in deps if rank[d] > rank[m])
    assert upward == []
