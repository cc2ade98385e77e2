"""The version of pytest-xarch (one home: the package, pyproject and `xarch --version` read it)."""

__version__ = "0.1.0"
