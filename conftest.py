"""Registers the benchmark plugin for this checkout when the package is not installed.

Installed (`pip install -e .`), the plugin loads through its `pytest11` entry point.
"""

from importlib.metadata import entry_points

if not any(ep.value == "benchmark.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["benchmark.plugin"]
