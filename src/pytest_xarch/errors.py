"""Errors a user can cause and fix. Their message names the problem and the fix."""

from __future__ import annotations


class XarchError(Exception):
    """A problem the user can fix; `str()` is the whole message, ready to print."""


class UnknownTargetError(XarchError):
    """A target name that no built-in or configured target answers to."""


class ConfigError(XarchError):
    """A malformed configuration file or setting."""


class SetupError(XarchError):
    """Something the run needs is missing: an emulator, a sysroot, the program itself."""
