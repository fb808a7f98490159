"""The type stubs (_core.pyi, py.typed) describe the compiled module as it is: every public
name and member of mailsim._core is in the stubs, and nothing in the stubs is missing."""

import ast
import os

import mailsim
from mailsim import _core


def _stub_tree():
    path = os.path.join(os.path.dirname(mailsim.__file__), "_core.pyi")
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read())


def _members(node):
    names = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            names.add(item.name)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
    return names


def test_py_typed_ships_with_the_package():
    assert os.path.exists(os.path.join(os.path.dirname(mailsim.__file__), "py.typed"))


def test_stubs_match_the_compiled_module():
    tree = _stub_tree()
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = _members(node)
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            stubbed[node.target.id] = None
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert public - set(stubbed) == set(), "in _core but not in _core.pyi"
    assert {n for n in stubbed if not n.startswith("_")} - public == set(), "stubbed but missing"
    for name, members in stubbed.items():
        if members is None or name.startswith("_"):
            continue
        cls = getattr(_core, name)
        if issubclass(cls, BaseException):
            assert issubclass(cls, ValueError)
            continue
        runtime = {m for m in dir(cls) if not m.startswith("_")}
        assert runtime - members == set(), f"{name}: members without stubs"
        assert {m for m in members if not m.startswith("_")} - runtime == set(), f"{name}: stale"
