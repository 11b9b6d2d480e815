"""Checking a model file before torch reads it, so that loading it runs no code from it.

torch's readers run code from a file in more places than ``weights_only`` covers.
In torch 2.13, ``torch.export.load``:

* unpickles the sample inputs and legacy constants with ``weights_only=True`` and,
  when that fails, again with ``weights_only=False``
  (``torch._export.serde.serialize.deserialize_torch_artifact``);
* unpickles "pickled" weights and tensor constants with ``weights_only=False`` and
  opaque constants with plain ``pickle.loads``, and TorchScript custom objects with
  ``torch._C._pickle_load_obj`` (``torch.export.pt2_archive._package._load_state_dict``
  and ``_load_constants``);
* opens the compiled AOTInductor libraries under ``data/aotinductor/``
  (``_package.load_pt2`` / ``_load_aoti``);
* passes the program's symbolic-shape strings to ``sympy.sympify``, which
  evaluates them as Python (``GraphModuleDeserializer._parse_sym_expr``);
* writes the program's node, input and keyword names unescaped into Python source
  that ``torch.fx`` executes when it builds the module (``sync_fx_node`` then
  ``GraphModule.recompile``), and so does ``torch.export.unflatten`` with module
  paths and the keyword names of the input spec;
* imports modules named in pytree specs (``torch.utils._pytree.enum_object_hook``,
  ``_defaultdict_deserialize``), and keeps guard code that ``ExportedProgram.module``
  executes (a program exported with dynamic sizes carries checks on its input's
  sizes there, which are accepted when they are plain arithmetic on sizes).

The checks below accept only what a genuine file needs and refuse anything else,
before torch opens the file: every pickle may use only the instructions and globals
that torch's ``weights_only`` unpickler allows, so that it runs nothing whichever
unpickler reads it. ``.pt``/``.pth`` files get the same pickle check before their
``weights_only=True`` load, which has had bypasses of its own (CVE-2025-32434).
"""

from __future__ import annotations

import ast
import builtins
import functools
import io
import json
import keyword
import pickletools
import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import IO, Any


class UnsafeFile(Exception):
    """The file holds something that could run code when torch loads it."""


class MalformedFile(Exception):
    """The file is not what its kind promises, so it cannot be checked."""


# --- pickles ------------------------------------------------------------------------

#: The instructions torch's weights_only unpickler executes (torch/_weights_only_unpickler.py).
_SAFE_OPCODES = frozenset(
    "PROTO STOP GLOBAL NEWOBJ REDUCE BUILD APPEND APPENDS SETITEM SETITEMS MARK TUPLE "
    "TUPLE1 TUPLE2 TUPLE3 NONE NEWFALSE NEWTRUE EMPTY_TUPLE EMPTY_LIST EMPTY_DICT EMPTY_SET "
    "BININT BININT1 BININT2 BINFLOAT BINUNICODE SHORT_BINSTRING BINPERSID BINGET "
    "LONG_BINGET BINPUT LONG_BINPUT LONG1".split()
)
#: ``torch.load`` of an old (non-zip) file unpickles this many pickles in a row.
_LEGACY_PICKLES = 5
_ZIP_MAGIC = b"PK\x03\x04"


@functools.cache
def _safe_globals() -> frozenset[str]:
    # torch's own default allowlist, not what add_safe_globals added at run time: some
    # of those (DeviceMesh, DTensor) do work when built by a plain unpickler.
    from torch._weights_only_unpickler import _get_allowed_globals

    return frozenset(_get_allowed_globals())


def check_pickle(stream: IO[bytes], where: str) -> None:
    """Refuse the pickle at the stream's position unless it is weights-only.

    Parameters
    ----------
    stream : binary file
        Positioned at the pickle; left just after its STOP.
    where : str
        The pickle's place in the file, for messages.

    Raises
    ------
    UnsafeFile
        For an instruction or a global that torch's ``weights_only`` refuses.
    MalformedFile
        When the bytes are not a complete pickle.
    """
    try:
        instructions = [(op.name, arg) for op, arg, _ in pickletools.genops(stream)]
    except Exception as err:  # pickletools raises several kinds on broken bytes
        raise MalformedFile(f"{where} is not a readable pickle ({err})") from err
    for name, arg in instructions:
        if name not in _SAFE_OPCODES:
            raise UnsafeFile(f"{where} uses the pickle instruction {name}")
        if name == "GLOBAL":
            parts = str(arg).split(" ")
            if len(parts) != 2 or ".".join(parts) not in _safe_globals():
                raise UnsafeFile(f"{where} refers to {'.'.join(parts)}")


def check_torch_save(source: Path | bytes, where: str | None = None) -> None:
    """Refuse a ``torch.save`` file (or its bytes) that could run code when loaded.

    Parameters
    ----------
    source : pathlib.Path or bytes
    where : str, optional
        The file's name or place, for messages; by default the path's name.

    Raises
    ------
    UnsafeFile, MalformedFile
    """
    where = where or (source.name if isinstance(source, Path) else "the file")
    with _open(source) as stream:
        # The same test as torch.serialization._is_zipfile, so both read it the same way.
        is_zip = stream.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
        stream.seek(0)
        if is_zip:
            _check_torch_zip(stream, where)
        else:
            _check_legacy_torch_save(stream, where)


def _open(source: Path | bytes) -> IO[bytes]:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


def _check_torch_zip(stream: IO[bytes], where: str) -> None:
    with _zip(stream, where) as archive:
        names = _unique_names(archive, where)
        if any(n.lower().endswith("constants.pkl") for n in names):
            # torch.load passes such archives to torch.jit.load.
            raise UnsafeFile(f"{where} is a TorchScript archive")
        for name in names:
            if name.lower().endswith(".pkl"):
                check_pickle(io.BytesIO(archive.read(name)), f"{where}: {name}")


def _check_legacy_torch_save(stream: IO[bytes], where: str) -> None:
    if tarfile.is_tarfile(stream):
        raise UnsafeFile(f"{where} is in the old tar format of torch.save, which cannot be checked")
    stream.seek(0)
    for _ in range(_LEGACY_PICKLES):
        if not stream.read(1):
            return
        stream.seek(-1, io.SEEK_CUR)
        check_pickle(stream, where)


def _zip(stream: IO[bytes] | Path, where: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise MalformedFile(f"{where} is not a readable zip archive ({err})") from err


def _unique_names(archive: zipfile.ZipFile, where: str) -> list[str]:
    # torch's zip reader (miniz) finds members ignoring case, and of two members with
    # one name it may read the other one than Python's zipfile: refuse both cases.
    names = archive.namelist()
    if len({n.lower() for n in names}) != len(names):
        raise UnsafeFile(f"{where} holds two members with the same name")
    return names


# --- torch.export archives ----------------------------------------------------------

#: What a torch.export archive may hold: its own parts and the 2.7-era top-level layout.
_EXPORT_PARTS = re.compile(
    r"(archive_format|archive_version|version|byteorder|\.data/.*|models/[^/]+\.json"
    r"|data/(weights|constants)/[^/]+|data/sample_inputs/[^/]+|extra/.*|extra_files/.*"
    r"|serialized_\w+\.(json|pt))"
)
_PAYLOAD_CONFIG = re.compile(r"data/(weights|constants)/[^/]+_config\.json")
_PROGRAMS = re.compile(r"models/[^/]+\.json|serialized_exported_program\.json")
#: Legacy members that torch.load reads, whatever their suffix.
_TORCH_SAVED = re.compile(r"serialized_(state_dict|constants|example_inputs)\.(json|pt)")
_PLAIN_FILE_NAME = re.compile(r"[\w.\-]+")


def check_exported_archive(path: Path) -> None:
    """Refuse a ``.pt2`` archive whose loading could run code from it.

    Checks every member that ``torch.export.load`` reads, as the module docstring lists.

    Raises
    ------
    UnsafeFile, MalformedFile
    """
    with _zip(path, path.name) as archive:
        names = _unique_names(archive, path.name)
        _check_one_top_folder(names)
        members = {_inner_name(n).lower(): n for n in names}
        if len(members) != len(names):
            raise UnsafeFile("two of its members stand for the same part of a program")
        for inner, name in members.items():
            _check_export_member(archive, inner, name, members)


def _check_one_top_folder(names: list[str]) -> None:
    # Members are checked by their names inside the top folder: with two top folders,
    # one would stand for the other, and torch might read the one never checked.
    tops = {name.split("/", 1)[0] for name in names if "/" in name}
    if len(tops) > 1:
        raise UnsafeFile(f"its members lie in several top folders ({', '.join(sorted(tops))})")


def _inner_name(name: str) -> str:
    # Members sit in one folder named after the archive, except in the 2.7-era layout.
    return name.split("/", 1)[1] if "/" in name else name


def _check_export_member(
    archive: zipfile.ZipFile, inner: str, name: str, members: dict[str, str]
) -> None:
    if name.endswith("/"):
        return
    if not _EXPORT_PARTS.fullmatch(inner):
        raise UnsafeFile(
            f"it holds {name}, which is not part of a plain torch.export program "
            "(AOTInductor archives carry compiled libraries)"
        )
    if inner.endswith(".pt") or _TORCH_SAVED.fullmatch(inner):
        check_torch_save(archive.read(name), name)
    elif _PAYLOAD_CONFIG.fullmatch(inner):
        _check_payload_config(archive, inner, _json(archive.read(name), name), members)
    elif _PROGRAMS.fullmatch(inner):
        check_program(_json(archive.read(name), name), name)


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedFile(f"{where} is not valid JSON ({err})") from err


def _check_payload_config(
    archive: zipfile.ZipFile, inner: str, config: Any, members: dict[str, str]
) -> None:
    """Weights and constants: raw bytes are data; pickled ones must be weights-only."""
    folder = inner.rsplit("/", 1)[0]
    entries = config.get("config", {}) if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise MalformedFile(f"{inner} is not a payload list")
    for fqn, entry in entries.items():
        _check_attribute_path(fqn, inner)
        file_name = entry.get("path_name") if isinstance(entry, dict) else None
        if not isinstance(file_name, str) or not _PLAIN_FILE_NAME.fullmatch(file_name):
            raise UnsafeFile(f"{inner} points at {file_name!r}, outside its folder")
        member = members.get(f"{folder}/{file_name}".lower())
        if file_name.startswith("custom_obj_"):
            raise UnsafeFile(f"{inner} holds a TorchScript object, which runs code when loaded")
        if member is not None and (entry.get("use_pickle") or file_name.startswith("opaque_obj_")):
            data = archive.read(member)
            if file_name.startswith("opaque_obj_"):
                check_pickle(io.BytesIO(data), member)
            else:
                check_torch_save(data, member)


# --- the program itself (models/<name>.json) ----------------------------------------

#: Keys whose string values become Python names in the code torch.fx generates.
_NAME_KEYS = frozenset({"name", "as_name", "user_input_name"})
#: Keys whose values are attribute paths (``layers.0.weight``) in generated code.
_PATH_KEYS = frozenset(
    {"parameter_name", "buffer_name", "tensor_constant_name", "custom_obj_name", "fqn"}
)
#: Keys whose values are dictionaries keyed by node names.
_NAMED_VALUES = frozenset(
    {"tensor_values", "sym_int_values", "sym_float_values", "sym_bool_values"}
)
_OPERATOR = re.compile(r"#?[\w.:]+")
_PATH_PART = re.compile(r"[\w\-]+")
_INERT_TEXT = re.compile(r"[^\"'\\\x00-\x1f\x7f]*")


def check_program(program: Any, where: str) -> None:
    """Refuse a serialized ``ExportedProgram`` whose loading could run code from it.

    Raises
    ------
    UnsafeFile
        For a name or path that would change the generated Python code, a shape
        expression or guard that is not plain arithmetic, a pytree spec that imports
        modules, or TorchScript custom objects.
    """
    if not isinstance(program, dict):
        raise MalformedFile(f"{where} is not a serialized program")
    guards = program.get("guards_code") or []
    if not isinstance(guards, list):
        raise MalformedFile(f"{where} has guard code that is not a list of checks")
    for guard in guards:
        check_guard(guard, where)
    for key, value in _items(program):
        _check_entry(key, value, where)


def _items(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON tree, lists taking their parent's key."""
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            yield inner_key, inner
            yield from _items(inner, inner_key)
    elif isinstance(value, list):
        for inner in value:
            yield from _items(inner, key)
            if not isinstance(inner, dict | list):
                yield key, inner


def _check_entry(key: str, value: Any, where: str) -> None:
    if key in ("class_fqn", "custom_obj_values", "as_custom_obj") and value:
        raise UnsafeFile(f"{where} uses TorchScript objects, which run code when loaded")
    if not isinstance(value, str | dict):
        return
    if key in _NAMED_VALUES and isinstance(value, dict):
        for name in value:
            _check_name(name, where)
    elif not isinstance(value, str):
        return
    elif key in _NAME_KEYS or key == "forward_arg_names":
        _check_name(value, where)
    elif key in _PATH_KEYS:
        _check_attribute_path(value, where)
    elif key == "expr_str":
        check_shape_expression(value, where)
    elif key in ("target", "as_operator"):
        if not _OPERATOR.fullmatch(value):
            raise UnsafeFile(f"{where} names the operator {value!r}")
    elif key == "nn_module_stack":
        _check_module_stack(value, where)
    elif key in ("in_spec", "out_spec"):
        _check_tree_spec(value, where, inputs=key == "in_spec")


def _check_name(name: str, where: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__"):
        raise UnsafeFile(f"{where} names a value {name!r}, which is not a plain Python name")


def _check_attribute_path(path: str, where: str) -> None:
    if path and not all(_PATH_PART.fullmatch(part) for part in path.split(".")):
        raise UnsafeFile(f"{where} names a module or weight {path!r} that is not a plain path")


def _check_module_stack(stack: str, where: str) -> None:
    # Serialized as "key,path,type;key,path,type" (serialize.py, deserialize_metadata).
    for entry in stack.split(";"):
        key, _, rest = entry.partition(",")
        path, _, type_name = rest.partition(",")
        _check_attribute_path(path, where)
        if not (_INERT_TEXT.fullmatch(key) and _INERT_TEXT.fullmatch(type_name)):
            raise UnsafeFile(f"{where} has a module record {entry!r} with quotes or controls")


def _check_tree_spec(spec: str, where: str, *, inputs: bool) -> None:
    """Pytree specs: no imports, and keyword names that are plain Python names."""
    try:
        _, root = json.loads(spec)
    except (ValueError, TypeError) as err:
        raise MalformedFile(f"{where} has an unreadable pytree spec ({err})") from err
    for node in _spec_nodes(root):
        context = node.get("context") if isinstance(node, dict) else None
        if isinstance(context, str) and ("__enum__" in context or "default_factory" in context):
            raise UnsafeFile(f"{where} has a pytree spec that imports Python modules")
    if inputs:
        for name in _keyword_names(root, where):
            _check_name(str(name), where)


def _keyword_names(root: Any, where: str) -> list:
    """The keyword names of an input spec: ``(args, kwargs)``, kwargs keyed by name."""
    children = root.get("children_spec") if isinstance(root, dict) else None
    if not isinstance(children, list) or len(children) != 2 or not isinstance(children[1], dict):
        return []
    context = children[1].get("context")
    names = _json(context.encode(), where) if isinstance(context, str) else None
    return names if isinstance(names, list) else []


def _spec_nodes(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for child in node.get("children_spec") or []:
            yield from _spec_nodes(child)


# --- symbolic shape expressions -----------------------------------------------------

#: Functions a shape expression may call: sympy's and torch.utils._sympy.functions'.
_SHAPE_FUNCTIONS = frozenset(
    "Symbol Integer Float Rational Add Mul Pow Mod Max Min Abs Eq Ne Lt Le Gt Ge "
    "StrictLessThan LessThan StrictGreaterThan GreaterThan Equality Unequality And Or Not "
    "floor ceiling sqrt Piecewise ExprCondPair FloorDiv ModularIndexing Where PythonMod "
    "CleanDiv CeilToInt FloorToInt CeilDiv LShift RShift PowByNatural FloatPow FloatTrueDiv "
    "IntTrueDiv IsNonOverlappingAndDenseIndicator TruncToFloat TruncToInt RoundToInt "
    "RoundDecimal ToFloat Identity".split()
)
_SHAPE_CONSTANTS = frozenset({"oo", "zoo", "nan", "int_oo", "true", "false"})
_SYMBOL_NAME = re.compile(r"[a-z][a-z0-9_]*")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_SHAPE_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name,
    ast.Constant, ast.keyword, ast.Load, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip


def check_shape_expression(text: str, where: str) -> None:
    """Refuse a symbolic-shape string unless it is arithmetic on shape symbols.

    ``sympy.sympify`` evaluates its argument as Python, so the string may only call
    sympy's and torch's shape functions, on numbers and symbols; never reach an
    attribute, a subscript or a name that sympy would resolve to one of its objects.

    Raises
    ------
    UnsafeFile
    """
    try:
        # sympify drops newlines before it parses; check what it will see.
        tree = ast.parse(text.replace("\n", ""), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise UnsafeFile(f"{where} has a shape expression that is not arithmetic") from err
    # Symbol('s0', ...) and Float('1.5', precision=53) name their value in a string;
    # any other string would reach sympify, which parses (evaluates) it.
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    named = {id(call.args[0]) for call in calls if _names_its_value(call)}
    for node in ast.walk(tree):
        if not isinstance(node, _SHAPE_NODES) or not _shape_node_ok(node, named):
            raise UnsafeFile(
                f"{where} has a shape expression that is not plain arithmetic: {text[:80]!r}"
            )


def _names_its_value(call: ast.Call) -> bool:
    if not (isinstance(call.func, ast.Name) and call.args):
        return False
    first = call.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return False
    if call.func.id == "Symbol":
        return _plain_symbol(first.value)
    return call.func.id == "Float" and bool(_NUMBER.fullmatch(first.value))


def _shape_node_ok(node: ast.AST, named: set[int]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, bool | int | float) or id(node) in named
    if isinstance(node, ast.Name):
        return node.id in _SHAPE_FUNCTIONS or _plain_symbol(node.id)
    if isinstance(node, ast.keyword):  # assumptions: positive=True, precision=53
        return bool(_SYMBOL_NAME.fullmatch(node.arg or "")) and _is_constant(node.value, bool | int)
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _SHAPE_FUNCTIONS
    return True


def _plain_symbol(name: str) -> bool:
    import sympy

    # sympy's parser resolves names of its own objects (sympify, lambdify...) and of
    # Python's built-in functions (exec, open...) to those objects, not to symbols.
    known = (hasattr(sympy, name) or hasattr(builtins, name)) and name not in _SHAPE_CONSTANTS
    return bool(_SYMBOL_NAME.fullmatch(name)) and not known and name not in _SHAPE_FUNCTIONS


def _is_constant(node: ast.AST, kinds: type | UnionType | tuple[type, ...]) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, kinds)


# --- guard code ----------------------------------------------------------------------

#: What a guard on input sizes is made of: ``(L['x'].size()[2] // 4) != 1``,
#: ``max(1, L['x'].size()[3] // 4) * ...``. No power (``**`` can be made to run forever).
_GUARD_NODES = (
    ast.Expression, ast.Compare, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Call, ast.Attribute,
    ast.Subscript, ast.Name, ast.Constant, ast.Load, ast.cmpop, ast.boolop,
    ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.USub, ast.Not,
)  # fmt: skip
_GUARD_FUNCTIONS = frozenset({"max", "min"})
#: The name torch gives the inputs in guard code, subscripted by each input's name.
_GUARD_INPUTS = "L"


def check_guard(text: Any, where: str) -> None:
    """Refuse a guard of a ``torch.export`` program unless it is arithmetic on input sizes.

    torch pastes each guard into a function that it executes (and into a string
    literal of its message), so only comparisons of ``L['name'].size()[i]``, integers, ``max`` and
    ``min`` with ``+ - * // %`` are accepted.

    Raises
    ------
    UnsafeFile
    """
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as err:
        raise UnsafeFile(f"{where} carries guard code that is not arithmetic") from err
    if not all(isinstance(node, _GUARD_NODES) and _guard_node_ok(node) for node in ast.walk(tree)):
        raise UnsafeFile(
            f"{where} carries guard code that is not plain arithmetic on input sizes: "
            f"{str(text)[:80]!r}"
        )


def _guard_node_ok(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) or (
            isinstance(node.value, str) and node.value.isidentifier()
        )
    if isinstance(node, ast.Name):
        return node.id in _GUARD_FUNCTIONS or node.id == _GUARD_INPUTS
    if isinstance(node, ast.Attribute):  # L['x'].size
        return node.attr == "size" and _is_input(node.value)
    if isinstance(node, ast.Subscript):  # L['x'] or L['x'].size()[2]
        return _is_input(node) or (_is_constant(node.slice, int) and _is_size_call(node.value))
    if isinstance(node, ast.Call):
        if node.keywords:
            return False
        if isinstance(node.func, ast.Name):
            return node.func.id in _GUARD_FUNCTIONS
        return _is_size_call(node)
    return True


def _is_input(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == _GUARD_INPUTS
        and _is_constant(node.slice, str)
    )


def _is_size_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and not node.args
        and not node.keywords
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "size"
        and _is_input(node.func.value)
    )
