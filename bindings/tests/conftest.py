"""The pytest suite of the Python bindings (ctest label "python"). It uses the plugin the way
a user's conftest.py would."""

import os
import sys

import pytest

pytest_plugins = ["mailsim.pytest_plugin"]

SOURCE_DIR = os.environ.get(
    "MAILSIM_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
)
EXAMPLES_DIR = os.path.join(SOURCE_DIR, "scenarios", "examples")
CATALOG_DIR = os.path.join(SOURCE_DIR, "scenarios", "catalog")

if EXAMPLES_DIR not in sys.path:
    sys.path.insert(0, EXAMPLES_DIR)


@pytest.fixture
def examples_dir() -> str:
    return EXAMPLES_DIR


@pytest.fixture
def catalog_dir() -> str:
    return CATALOG_DIR
