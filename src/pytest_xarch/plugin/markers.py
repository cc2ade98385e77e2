"""The xarch, hardware_only and xarch_min_fidelity markers: registration, parsing, and what
they do to items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import pytest

from ..collect.items import ISOLATE_MARKER
from ..errors import XarchError
from ..fidelity import Fidelity
from ..settings import Settings
from ..state import Deselection, SessionState
from ..targets import Target
from .keys import ARGNAME, UNPROVEN, state_of

XARCH_MARKER_SIGNATURE = '@pytest.mark.xarch(*targets: str, skip=["<target>", ...])'
HARDWARE_MARKER_SIGNATURE = '@pytest.mark.hardware_only(reason="<why it needs real silicon>")'
MIN_FIDELITY_SIGNATURE = ('@pytest.mark.xarch_min_fidelity("<static|emulated|system|native|'
                          'hardware>", reason="<why>")')


def register(config: pytest.Config) -> None:
    """Declare the markers (so that --strict-markers accepts them)."""
    config.addinivalue_line(
        "markers",
        "xarch(*targets, skip=[...]): run this test only for these of the selected targets "
        "(and never for those in skip)",
    )
    config.addinivalue_line(
        "markers",
        "hardware_only(reason=...): run only on real silicon (fidelity native or hardware); "
        "skipped with the reason under emulation",
    )
    config.addinivalue_line(
        "markers",
        "xarch_min_fidelity(level, reason=...): run only where the target's runner reaches "
        "at least this fidelity (e.g. \"native\"); skipped with the reason elsewhere",
    )
    config.addinivalue_line(
        "markers", f"{ISOLATE_MARKER}: run this test-binary case in a launch of its own",
    )


class NoTarget:
    """Parameter of a test that no selected target is left for; such items are deselected."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return "no-target"


@dataclass(frozen=True)
class Restriction:
    """What `@pytest.mark.xarch(...)` markers allow: an optional whitelist and a skip list."""

    only: Optional[frozenset[str]] = None
    skip: frozenset[str] = frozenset()

    def allows(self, target: Target) -> bool:
        """Whether `target` survives the restriction."""
        if self.only is not None and target.name not in self.only:
            return False
        return target.name not in self.skip


def parse_xarch_markers(
    markers: Iterable[tuple[Sequence[Any], Mapping[str, Any]]], settings: Settings
) -> Restriction:
    """Combine `xarch` markers (args, kwargs): targets intersect, skips accumulate.

    Raises ValueError with a message quoting the marker's signature on bad arguments.
    """
    only: Optional[set[str]] = None
    skip: set[str] = set()
    for args, kwargs in markers:
        unknown = set(kwargs) - {"skip"}
        if unknown:
            raise ValueError(
                f"unexpected argument(s) {', '.join(sorted(unknown))}; "
                f"use {XARCH_MARKER_SIGNATURE}"
            )
        names = _marker_names(args, "targets")
        skip_arg = kwargs.get("skip", ())
        if isinstance(skip_arg, str):
            skip_arg = (skip_arg,)
        if not isinstance(skip_arg, (list, tuple, set, frozenset)):
            raise ValueError(f"skip must be a target name or a list of them, got {skip_arg!r}; "
                             f"use {XARCH_MARKER_SIGNATURE}")
        skip |= {_resolve_marker_target(n, settings)
                 for n in _marker_names(list(skip_arg), "skip")}
        if names:
            resolved = {_resolve_marker_target(n, settings) for n in names}
            only = resolved if only is None else only & resolved
    return Restriction(frozenset(only) if only is not None else None, frozenset(skip))


def _marker_names(values: Sequence[Any], what: str) -> list[str]:
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"{what} must be target names (strings); use {XARCH_MARKER_SIGNATURE}")
    return list(values)


def _resolve_marker_target(name: str, settings: Settings) -> str:
    try:
        return settings.resolve(name).name
    except XarchError as error:
        raise ValueError(f"{error} (in {XARCH_MARKER_SIGNATURE})") from None


def parse_hardware_only(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The reason of a `hardware_only` marker; ValueError quoting the signature if malformed."""
    if set(kwargs) - {"reason"} or len(args) > 1 or (args and "reason" in kwargs):
        raise ValueError(f"bad arguments; use {HARDWARE_MARKER_SIGNATURE}")
    reason = args[0] if args else kwargs.get("reason", "")
    if not isinstance(reason, str):
        raise ValueError(f"reason must be a string; use {HARDWARE_MARKER_SIGNATURE}")
    return reason


def parse_min_fidelity(args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Fidelity, str]:
    """(level, reason) of an `xarch_min_fidelity` marker; ValueError quoting the signature."""
    if len(args) != 1 or set(kwargs) - {"reason"} or not isinstance(args[0], str):
        raise ValueError(f"bad arguments; use {MIN_FIDELITY_SIGNATURE}")
    reason = kwargs.get("reason", "")
    if not isinstance(reason, str):
        raise ValueError(f"reason must be a string; use {MIN_FIDELITY_SIGNATURE}")
    try:
        return Fidelity.parse(args[0]), reason
    except ValueError as error:
        raise ValueError(f"{error} (in {MIN_FIDELITY_SIGNATURE})") from None


def _argnames(spec: Union[str, Sequence[str]]) -> list[str]:
    if isinstance(spec, str):
        return [name.strip() for name in spec.split(",")]
    return list(spec)


def parametrize(metafunc: pytest.Metafunc) -> None:
    """Parametrize a test that uses the xarch fixtures over the targets its markers allow."""
    if ARGNAME not in metafunc.fixturenames:
        return
    by_hand = any(
        marker.args and ARGNAME in _argnames(marker.args[0])
        for marker in metafunc.definition.iter_markers("parametrize")
    )
    if by_hand:
        return
    state = state_of(metafunc.config)
    markers = [(m.args, m.kwargs) for m in metafunc.definition.iter_markers("xarch")]
    try:
        restriction = parse_xarch_markers(markers, state.settings)
    except ValueError as error:
        # Raised here it would be an internal error; collection_modifyitems reports it.
        state.usage_errors.append(f"{metafunc.definition.nodeid}: {error}")
        metafunc.parametrize(ARGNAME, [NoTarget(str(error))], ids=["bad-marker"], indirect=True)
        return
    allowed = [target for target in state.targets if restriction.allows(target)]
    if allowed:
        metafunc.parametrize(ARGNAME, allowed, ids=[t.name for t in allowed], indirect=True)
        return
    selected = ", ".join(t.name for t in state.targets)
    wanted = ", ".join(sorted(restriction.only or ())) or "any"
    reason = f"selected targets: {selected}; marker allows: {wanted}"
    if restriction.skip:
        reason += f"; skips: {', '.join(sorted(restriction.skip))}"
    metafunc.parametrize(ARGNAME, [NoTarget(reason)], ids=["no-target"], indirect=True)


def item_target(item: pytest.Item) -> Optional[Target]:
    """The target of an xarch item: collected binaries say it, parametrized tests carry it."""
    own = getattr(item, "xarch_target", None)
    if isinstance(own, Target):
        return own
    callspec = getattr(item, "callspec", None)
    if callspec is None or ARGNAME not in callspec.params:
        return None
    value = callspec.params[ARGNAME]
    if isinstance(value, NoTarget):
        return None
    return state_of(item.config).target(value)


def sort_out(items: list[pytest.Item], config: pytest.Config) -> list[pytest.Item]:
    """Gate hardware_only items, check targets named by hand; the items to deselect."""
    state = state_of(config)
    if state.usage_errors:
        raise pytest.UsageError(state.usage_errors[0])
    removed = []
    for item in items:
        try:
            item_target(item)  # a target named by hand (indirect parametrize) must exist
        except XarchError as error:
            raise pytest.UsageError(f"{item.nodeid}: {error}") from None
        gate_fidelity(item, state)
        callspec = getattr(item, "callspec", None)
        value = callspec.params.get(ARGNAME) if callspec is not None else None
        if isinstance(value, NoTarget):
            removed.append(item)
            state.deselected.append(Deselection(item.nodeid.replace("[no-target]", ""),
                                                value.reason))
    return removed


def gate_fidelity(item: pytest.Item, state: SessionState) -> None:
    """Skip (by marker, so the report points at the test) what needs a fidelity its
    target's runner does not reach here: `hardware_only` (silicon), `xarch_min_fidelity`."""
    needs = []  # (level, what the summary lists it for, why it is skipped, say the fidelity)
    try:
        marker = item.get_closest_marker("hardware_only")
        if marker is not None:
            reason = parse_hardware_only(marker.args, marker.kwargs) or "hardware_only"
            needs.append((Fidelity.NATIVE, reason, f"needs real hardware: {reason}", False))
        marker = item.get_closest_marker("xarch_min_fidelity")
        if marker is not None:
            level, reason = parse_min_fidelity(marker.args, marker.kwargs)
            needs.append((level, reason or f"needs fidelity {level}",
                          f"needs fidelity {level} or above{': ' + reason if reason else ''}",
                          True))
    except ValueError as error:
        raise pytest.UsageError(f"{item.nodeid}: {error}") from None
    target = item_target(item) if needs else None
    if target is None:
        return
    kind, description, fidelity = state.runner_summary(target, engine_only=True)
    for level, unproven, why, say_fidelity in needs:
        if fidelity < level:
            item.stash[UNPROVEN] = unproven
            shown = f" ({fidelity})" if say_fidelity else ""
            how = f"runs under {description}{shown}" if kind != "unavailable" else "has no runner"
            item.add_marker(pytest.mark.skip(reason=f"{target.name} {how} here; {why}"))
            return
