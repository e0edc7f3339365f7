#!/usr/bin/env python3
"""The message catalogue: find every person-facing message in the source, keep the .po in step,
compile the .mo gettext loads.

    python checks/messages.py update    # add new messages to the .po (empty Chinese), drop gone ones
    python checks/messages.py compile   # .po -> .mo (commit both)
    python checks/messages.py check     # list messages without Chinese; exit 1 if any

A message is the English text given to a sink (bridge/i18n.py, SINKS; every exception of the
bridge's tree): a string, an f-string or a ``+`` of them, a variable assigned one of those in the
same function, or either branch of ``a if c else b``. Its msgid is the template: literal text with
braces doubled, each ``{value}`` named after its expression. A value written as a string of its
own (``f"... {'x' if c else 'y'}"``) is a message too, translated where it is filled in. Entries
with the translator comment ``#. by hand`` are kept though no source has them: templates that
fit a message more closely than the one in the source (bridge/i18n.py prefers the most literal).
docs/development.md says how to add a message.
"""
from __future__ import annotations

import ast
import re
import string
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bridge"
PO = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "image-relay-bridge.po"
MO = PO.with_suffix(".mo")
# What the model reads (the MCP server's tool text) and the emulator's imitation of a relay stay English.
NOT_SHOWN_TO_PEOPLE = ("server", "emulator")
BY_HAND = "by hand"


def sinks() -> dict[str, tuple]:
    sys.path.insert(0, str(ROOT))
    from bridge.i18n import SINKS
    return SINKS


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in NOT_SHOWN_TO_PEOPLE)


def error_classes(trees: list[ast.Module]) -> set[str]:
    """BridgeError and every class that derives from it, anywhere in the package."""
    known, grew = {"BridgeError"}, True
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    while grew:
        grew = False
        for node in classes:
            if node.name not in known and any(getattr(base, "id", getattr(base, "attr", "")) in known
                                              for base in node.bases):
                known.add(node.name)
                grew = True
    return known


def extract(files: list[Path] | None = None) -> dict[str, list[str]]:
    """msgid -> where it is written (path:line)."""
    files = source_files() if files is None else files
    trees = {path: ast.parse(path.read_text("utf-8"), str(path)) for path in files}
    table = dict(sinks())
    for name in error_classes([*trees.values(), ast.parse((PACKAGE / "errors.py").read_text("utf-8"))]):
        table.setdefault(name, (0, "message"))
    found: dict[str, list[str]] = {}
    for path, tree in trees.items():
        where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        _MODULES.update({id(n): tree for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                                ast.Module))})
        for function, node in _calls_and_appends(tree):
            for expr in _message_args(node, table):
                for msgid in _templates(expr, function):
                    found.setdefault(msgid, []).append(f"{where}:{node.lineno}")
    return found


def _calls_and_appends(tree: ast.Module):
    """(enclosing function or module, node) for each call and each ``x.message += ...``."""
    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call) or (isinstance(child, ast.AugAssign) and isinstance(child.op, ast.Add)
                                               and isinstance(child.target, ast.Attribute)
                                               and child.target.attr == "message"):
                yield function, child
            yield from visit(child, inner)
    yield from visit(tree, tree)


def _message_args(node, table: dict[str, tuple]) -> list[ast.expr]:
    if isinstance(node, ast.AugAssign):
        return [node.value]
    func = node.func
    spec = table.get(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    if spec is None:
        return []
    if "*" in spec:
        return [*node.args, *(k.value for k in node.keywords)]
    picked = [node.args[i] for i in spec if isinstance(i, int) and i < len(node.args)]
    return picked + [k.value for k in node.keywords if k.arg in spec]


def _templates(expr: ast.expr, function, seen: frozenset = frozenset()) -> list[str]:
    """Every msgid an expression can produce, with those of the strings inside its values."""
    if isinstance(expr, ast.Name) and expr.id not in seen:
        values = _assigned(function, expr.id) + _default(function, expr.id)
        return [m for v in values for m in _templates(v, function, seen | {expr.id})]
    if isinstance(expr, ast.IfExp):
        return _templates(expr.body, function, seen) + _templates(expr.orelse, function, seen)
    if isinstance(expr, ast.BoolOp):
        return [m for v in expr.values for m in _templates(v, function, seen)]
    if not _is_text(expr):
        return []
    builder = _Builder()
    builder.add(expr)
    found = [builder.msgid()] if _worth_translating(builder.msgid()) else []
    for inner in builder.inner:
        found += _templates(inner, function, seen)
    return found


def _assigned(function, name: str) -> list[ast.expr]:
    """What the function assigns (or adds) to ``name``; for ``a, name = TABLE[k]``, the element at that
    place in each entry of the module's ``TABLE``."""
    values: list[ast.expr] = []
    module = _MODULES.get(id(function))
    nodes = list(ast.walk(function))
    if module is not None and function is not module:  # a module-level sentence (REPHRASE = "... ..."), not a name
        nodes += [n for n in module.body if isinstance(n, ast.Assign) and " " in ast.unparse(n.value)]
    for node in nodes:
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            values.append(node.value)
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
            if isinstance(target, ast.Name) and target.id == name:
                values.append(node.value)
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Subscript):
                place = next((i for i, t in enumerate(target.elts) if isinstance(t, ast.Name) and t.id == name), None)
                if place is not None:
                    values += _table_column(_MODULES.get(id(function)), _name(node.value.value), place)
    return values


def _table_column(module, table: str, place: int) -> list[ast.expr]:
    for node in module.body if module is not None else ():
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.strip("_") == table
                                                for t in node.targets):
            entries = node.value.values if isinstance(node.value, ast.Dict) else getattr(node.value, "elts", [])
            return [e.elts[place] for e in entries if isinstance(e, ast.Tuple) and len(e.elts) > place]
    return []


_MODULES: dict[int, ast.Module] = {}  # id(function) -> its module, for module-level tables


def _default(function, name: str) -> list[ast.expr]:
    """The default value of the function's parameter ``name``, if it has one."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
    return [default for arg, default in pairs if arg.arg == name]


def _is_text(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.JoinedStr):
        return True
    return isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add) and (_is_text(expr.left) or _is_text(expr.right))


def _worth_translating(msgid: str) -> bool:
    literal = "".join(text for text, _, _, _ in string.Formatter().parse(msgid))
    return len(re.findall(r"[A-Za-z]", literal)) >= 2


@dataclass
class _Builder:
    parts: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # expression source -> placeholder name
    inner: list[ast.expr] = field(default_factory=list)  # strings inside values: messages of their own

    def add(self, expr: ast.expr) -> None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self.parts.append(expr.value.replace("{", "{{").replace("}", "}}"))
        elif isinstance(expr, ast.JoinedStr):
            values = list(expr.values)
            while values:
                value = values.pop(0)
                if values and _capitalised(value, values[0]):  # {what[0].upper()}{what[1:]}: one value
                    value = values.pop(0).value.value
                self.add(value.value if isinstance(value, ast.FormattedValue) else value)
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add) and _is_text(expr):
            self.add(expr.left)
            self.add(expr.right)
        else:
            self.parts.append("{" + self.placeholder(expr) + "}")
            self.inner += [n for n in ast.walk(expr) if isinstance(n, (ast.IfExp, ast.JoinedStr, ast.BoolOp))]
            if isinstance(expr, ast.Name):
                self.inner.append(expr)  # a variable: what the function assigns it, or its default

    def placeholder(self, expr: ast.expr) -> str:
        source = ast.unparse(expr)
        if source not in self.names:
            base = _name(expr) or "value"
            name, k = base, 2
            while name in self.names.values():
                name, k = f"{base}{k}", k + 1
            self.names[source] = name
        return self.names[source]

    def msgid(self) -> str:
        return "".join(self.parts)


def _capitalised(first, rest) -> bool:
    if not (isinstance(first, ast.FormattedValue) and isinstance(rest, ast.FormattedValue)):
        return False
    call, tail = first.value, rest.value
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "upper"
            and isinstance(call.func.value, ast.Subscript) and isinstance(tail, ast.Subscript)
            and isinstance(tail.slice, ast.Slice)
            and ast.unparse(call.func.value.value) == ast.unparse(tail.value))


def _name(expr) -> str:
    if isinstance(expr, ast.Name):
        return expr.id.strip("_")
    if isinstance(expr, ast.Attribute):
        return expr.attr.strip("_")
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in ("join", "format", "strip", "rstrip") and expr.args:
            return _name(expr.args[0])
        return _name(expr.func)
    if isinstance(expr, (ast.Subscript, ast.Starred)):
        return _name(expr.value)
    if isinstance(expr, ast.BinOp):
        return _name(expr.left)
    if isinstance(expr, ast.IfExp):
        return _name(expr.test) if not isinstance(expr.test, ast.Compare) else _name(expr.test.left)
    if isinstance(expr, ast.Compare):
        return _name(expr.left)
    return ""


# --- the .po file ------------------------------------------------------------------------------

@dataclass
class Entry:
    msgid: str
    msgstr: str = ""
    comments: list[str] = field(default_factory=list)  # "#." and "#:" lines, without the mark

    @property
    def by_hand(self) -> bool:
        return BY_HAND in self.comments


def read_po(path: Path = PO) -> tuple[str, list[Entry]]:
    """The header's msgstr and the entries, in file order."""
    entries: list[Entry] = []
    comments: list[str] = []
    current: Entry | None = None
    key = ""
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("#.") or line.startswith("#:"):
            if line.startswith("#."):
                comments.append(line[2:].strip())
        elif line.startswith("msgid "):
            current = Entry(_unquote(line[6:]), comments=comments)
            comments, key = [], "msgid"
            entries.append(current)
        elif line.startswith("msgstr "):
            current.msgstr, key = _unquote(line[7:]), "msgstr"
        elif line.startswith('"') and current is not None:
            setattr(current, key, getattr(current, key) + _unquote(line))
    header = entries.pop(0).msgstr if entries and entries[0].msgid == "" else ""
    return header, entries


def write_po(header: str, entries: list[Entry], found: dict[str, list[str]], path: Path = PO) -> None:
    out = ['# Chinese (Simplified) for image-relay-bridge: what setup, doctor and the CLI show a person.',
           '# Edit msgstr only; python checks/messages.py update / compile (docs/development.md).',
           'msgid ""', f"msgstr {_quote(header)}", ""]
    # Grouped by file, then alphabetical, without line numbers: edits elsewhere in the code do not move
    # entries, and messages added in different files land in different places (fewer merge conflicts).
    files = {m: sorted({w.split(":")[0] for w in where}) for m, where in found.items()}
    for entry in sorted(entries, key=lambda e: (e.by_hand, files.get(e.msgid, [""])[0], e.msgid)):
        out += [f"#. {c}" for c in entry.comments]
        out += [f"#: {where}" for where in files.get(entry.msgid, [])]
        out += ["#, python-brace-format"] if placeholders(entry.msgid) else []
        out += [f"msgid {_quote(entry.msgid)}", f"msgstr {_quote(entry.msgstr)}", ""]
    path.write_text("\n".join(out), "utf-8")


def _quote(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    lines = body.split("\n")
    if len(lines) == 1:
        return f'"{body}"'
    return '""\n' + "\n".join(f'"{line}\\n"' if i < len(lines) - 1 else f'"{line}"'
                               for i, line in enumerate(lines) if i < len(lines) - 1 or line)


def _unquote(text: str) -> str:
    text = text.strip()[1:-1]
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


HEADER = "Project-Id-Version: image-relay-bridge\nLanguage: zh_CN\nMIME-Version: 1.0\n" \
         "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"


def compile_mo(header: str, entries: list[Entry]) -> bytes:
    """GNU .mo bytes (no hash table), as Python's Tools/i18n/msgfmt.py writes them; only translated entries."""
    pairs = sorted([("", header)] + [(e.msgid, e.msgstr) for e in entries if e.msgstr])
    ids = [k.encode("utf-8") for k, _ in pairs]
    strs = [v.encode("utf-8") for _, v in pairs]
    start = 7 * 4 + 16 * len(pairs)
    offsets, data = [], b""
    for blob in ids:
        offsets.append((len(blob), start + len(data)))
        data += blob + b"\0"
    for blob in strs:
        offsets.append((len(blob), start + len(data)))
        data += blob + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, len(pairs), 7 * 4, 7 * 4 + 8 * len(pairs), 0, 0)
    table = b"".join(struct.pack("<2I", *pair) for pair in offsets)
    return head + table + data


def placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    found = extract()
    header, entries = read_po() if PO.exists() else (HEADER, [])
    if command == "update":
        known = {e.msgid for e in entries}
        kept = [e for e in entries if e.msgid in found or e.by_hand]
        added = [Entry(m) for m in found if m not in known]
        write_po(header or HEADER, kept + added, found)
        print(f"{PO.relative_to(ROOT)}: {len(added)} new, {len(entries) - len(kept)} dropped, "
              f"{sum(1 for e in kept + added if not e.msgstr)} without Chinese")
        return 0
    if command == "compile":
        MO.write_bytes(compile_mo(header, entries))
        print(f"{MO.relative_to(ROOT)}: {sum(1 for e in entries if e.msgstr)} messages")
        return 0
    translated = {e.msgid for e in entries if e.msgstr}
    missing = [m for m in found if m not in translated]
    for msgid in missing:
        print(f"{found[msgid][0]}: no Chinese for {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
