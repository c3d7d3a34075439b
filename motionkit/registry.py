"""Registries of named components: built-ins by decorator, third-party plugins by entry point.

One ``Registry`` per kind of component (quantizers, backbones, text encoders, datasets,
metrics, extra CLI commands). Built-in components register with a decorator::

    @quantizers.register("fsq")
    @dataclass(frozen=True)
    class FSQConfig: ...

Third-party distributions add components through the entry-point groups ``motionkit.<kind>``
(for example ``motionkit.quantizers``), discovered with ``importlib.metadata``.

Rules:

* Listing names (``Registry.names``, ``Registry.entries``) imports no plugin code: names,
  distributions and summaries come from the installed metadata.
* A plugin that fails to import gives one ``PluginWarning`` naming its
  distribution and the error; other components keep working.
* Two components of one kind with one name is an error naming both sources, raised when the name is
  used.
* An unknown name is an error with close-match suggestions.
* ``MOTIONKIT_DISABLE_PLUGINS=1`` turns plugin discovery off.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from motionkit.errors import (
    DuplicateComponentError,
    PluginLoadError,
    PluginWarning,
    UnknownComponentError,
    did_you_mean,
)

#: Environment variable that, when set to a true value, turns plugin autoloading off.
DISABLE_PLUGINS_ENV = "MOTIONKIT_DISABLE_PLUGINS"
#: Prefix of every entry-point group motionkit reads.
GROUP_PREFIX = "motionkit."
#: Source name shown for components that ship with motionkit.
BUILTIN_SOURCE = "motionkit"


def plugins_enabled() -> bool:
    """Whether entry-point plugins are discovered (see ``DISABLE_PLUGINS_ENV``)."""
    value = os.environ.get(DISABLE_PLUGINS_ENV, "").strip().lower()
    return value in ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Entry:
    """One registered component, described without importing it.

    Attributes:
        kind: registry kind, e.g. ``"quantizers"``.
        name: the component's name, e.g. ``"fsq"``.
        source: distribution that provides it (``"motionkit"`` for built-ins).
        version: that distribution's version.
        target: ``"module:attribute"`` where the component lives.
        description: one line; a built-in's docstring summary, a plugin's distribution summary.
    """

    kind: str
    name: str
    source: str
    version: str
    target: str
    description: str

    @property
    def builtin(self) -> bool:
        return self.source == BUILTIN_SOURCE

    def label(self) -> str:
        """Human-readable origin, e.g. ``"motionkit-lfq 0.1.0 (motionkit_lfq:LFQConfig)"``."""
        origin = "motionkit built-in" if self.builtin else f"{self.source} {self.version}"
        return f"{origin} ({self.target})"


_entry_point_cache: dict[str, list[metadata.EntryPoint]] | None = None
_reported_failures: set[tuple[str, str, str]] = set()


def _entry_points_by_group() -> dict[str, list[metadata.EntryPoint]]:
    """All ``motionkit.*`` entry points of the environment, scanned once and cached."""
    global _entry_point_cache
    if _entry_point_cache is None:
        groups: dict[str, list[metadata.EntryPoint]] = {}
        seen_dists: set[str] = set()
        for dist in metadata.distributions():
            name = (dist.metadata["Name"] or "").lower().replace("_", "-")
            if name in seen_dists:  # the same distribution twice on sys.path: the first wins
                continue
            seen_dists.add(name)
            for ep in dist.entry_points:
                if ep.group.startswith(GROUP_PREFIX):
                    groups.setdefault(ep.group, []).append(ep)
        _entry_point_cache = groups
    return _entry_point_cache


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "<unknown distribution>"
    return dist.metadata["Name"] or "<unnamed distribution>"


def _dist_version(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else "?"


def _dist_summary(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    summary = dist.metadata.get("Summary") if dist is not None else None
    return (summary or "").strip() or f"from the {_dist_name(ep)} plugin"


def refresh() -> None:
    """Forget discovered entry points and reported failures (after installing a plugin)."""
    global _entry_point_cache
    _entry_point_cache = None
    _reported_failures.clear()
    importlib.invalidate_caches()
    for registry in REGISTRIES.values():
        registry._loaded_plugins.clear()


def summary_line(obj: Any) -> str:
    """First line of an object's docstring, or an empty string."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


class Registry:
    """Named components of one kind.

    Args:
        kind: plural name, also the entry-point group suffix (``motionkit.<kind>``).
        singular: how one component of this kind is called in messages (``"quantizer"``).
        builtin_modules: modules imported on first use; they register the built-ins. They must be
            cheap to import (no torch at module level).
        validate: called on every loaded object; raises ``TypeError`` or ``ValueError`` with a
            message when the object is not a valid component of this kind.
    """

    def __init__(
        self,
        kind: str,
        *,
        singular: str,
        builtin_modules: tuple[str, ...] = (),
        validate: Callable[[Any], None] | None = None,
    ) -> None:
        self.kind = kind
        self.singular = singular
        self.group = GROUP_PREFIX + kind
        self._builtin_modules = builtin_modules
        self._builtins_imported = False
        self._builtins: dict[str, tuple[Entry, Any]] = {}
        self._loaded_plugins: dict[tuple[str, str], Any] = {}
        self._validate = validate

    def __repr__(self) -> str:
        return f"Registry({self.kind!r})"

    # -- registration -------------------------------------------------------------------------

    def register(
        self, name: str | None = None, *, description: str | None = None
    ) -> Callable[[Any], Any]:
        """Decorator registering a built-in component under ``name`` (default: lower-case name)."""

        def decorator(obj: Any) -> Any:
            key = name or obj.__name__.lower()
            target = f"{obj.__module__}:{obj.__qualname__}"
            if key in self._builtins:
                previous = self._builtins[key][0]
                if previous.target != target:  # a module reloaded re-registers the same target
                    raise DuplicateComponentError(
                        f"{self.singular} {key!r} is registered twice: by {previous.target} "
                        f"and by {target}; rename one of them"
                    )
            if self._validate is not None:
                self._validate(obj)
            entry = Entry(
                kind=self.kind,
                name=key,
                source=BUILTIN_SOURCE,
                version=_motionkit_version(),
                target=target,
                description=description or summary_line(obj),
            )
            self._builtins[key] = (entry, obj)
            return obj

        return decorator

    # -- discovery without importing plugins -------------------------------------------------

    def _ensure_builtins(self) -> None:
        if not self._builtins_imported:
            self._builtins_imported = True
            for module in self._builtin_modules:
                importlib.import_module(module)

    def _plugin_entry_points(self) -> list[metadata.EntryPoint]:
        if not plugins_enabled():
            return []
        return list(_entry_points_by_group().get(self.group, []))

    def entries(self) -> list[Entry]:
        """Every registered component, duplicates included, sorted by name then source."""
        self._ensure_builtins()
        rows = [entry for entry, _ in self._builtins.values()]
        for ep in self._plugin_entry_points():
            rows.append(
                Entry(
                    kind=self.kind,
                    name=ep.name,
                    source=_dist_name(ep),
                    version=_dist_version(ep),
                    target=ep.value,
                    description=_dist_summary(ep),
                )
            )
        return sorted(rows, key=lambda e: (e.name, not e.builtin, e.source))

    def names(self) -> list[str]:
        """Sorted unique component names (imports no plugin code)."""
        return sorted({entry.name for entry in self.entries()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def duplicates(self) -> dict[str, list[Entry]]:
        """Names provided by more than one source, with all their entries."""
        by_name: dict[str, list[Entry]] = {}
        for entry in self.entries():
            by_name.setdefault(entry.name, []).append(entry)
        return {name: rows for name, rows in by_name.items() if len(rows) > 1}

    def entry(self, name: str) -> Entry:
        """The single entry called ``name``; errors on unknown or duplicated names."""
        rows = [e for e in self.entries() if e.name == name]
        if not rows:
            raise UnknownComponentError(self._unknown_message(name))
        if len(rows) > 1:
            sources = " and ".join(e.label() for e in rows)
            raise DuplicateComponentError(
                f"{self.singular} {name!r} is provided by {sources}; "
                "uninstall one of them or set MOTIONKIT_DISABLE_PLUGINS=1"
            )
        return rows[0]

    def _unknown_message(self, name: str) -> str:
        known = self.names()
        hint = did_you_mean(name, known)
        available = ", ".join(known) if known else "none registered"
        return f"unknown {self.singular} {name!r}{hint} (available: {available})"

    # -- loading -------------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The component called ``name``, importing its plugin if needed.

        Raises:
            UnknownComponentError: no such name (the message suggests close matches).
            DuplicateComponentError: two sources provide the name.
            PluginLoadError: its plugin failed to import or is not a valid component.
        """
        entry = self.entry(name)
        if entry.builtin:
            return self._builtins[name][1]
        key = (entry.source, entry.name)
        if key not in self._loaded_plugins:
            self._loaded_plugins[key] = self._load_plugin(entry)
        return self._loaded_plugins[key]

    def _load_plugin(self, entry: Entry) -> Any:
        ep = next(
            ep
            for ep in self._plugin_entry_points()
            if ep.name == entry.name and _dist_name(ep) == entry.source
        )
        try:
            obj = ep.load()
            if self._validate is not None:
                self._validate(obj)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
            message = (
                f"plugin {entry.source} {entry.version} failed to load {self.singular} "
                f"{entry.name!r} from {entry.target}: {reason}"
            )
            marker = (self.kind, entry.name, entry.source)
            if marker not in _reported_failures:
                _reported_failures.add(marker)
                warnings.warn(message, PluginWarning, stacklevel=3)
            raise PluginLoadError(message) from exc
        return obj

    def load_all(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Load every unambiguous component; return ``(loaded, failures)`` keyed by name.

        A broken plugin warns once and lands in ``failures``; it never stops the others.
        """
        loaded: dict[str, Any] = {}
        failures: dict[str, str] = {}
        for name in self.names():
            try:
                loaded[name] = self.get(name)
            except (PluginLoadError, DuplicateComponentError) as exc:
                failures[name] = str(exc)
        return loaded, failures


def _motionkit_version() -> str:
    from motionkit import __version__

    return __version__


def _validate_component(obj: Any) -> None:
    from motionkit.config.fields import check_component_class

    check_component_class(obj)


def _validate_command(obj: Any) -> None:
    import click

    if not isinstance(obj, click.Command):
        raise TypeError(f"expected a click command, got {type(obj).__name__}")


quantizers = Registry(
    "quantizers",
    singular="quantizer",
    builtin_modules=(
        "motionkit.quantizers.fsq",
        "motionkit.quantizers.vq",
        "motionkit.quantizers.rvq",
    ),
    validate=_validate_component,
)
backbones = Registry(
    "backbones",
    singular="backbone",
    builtin_modules=(
        "motionkit.backbones.prefix_lm",
        "motionkit.backbones.decoder_only",
        "motionkit.backbones.encoder_decoder",
    ),
    validate=_validate_component,
)
text_encoders = Registry(
    "text_encoders",
    singular="text encoder",
    builtin_modules=(
        "motionkit.text.learned",
        "motionkit.text.minilm",
        "motionkit.text.pretrained",
    ),
    validate=_validate_component,
)
datasets = Registry(
    "datasets",
    singular="dataset",
    builtin_modules=("motionkit.data.humanml3d",),
    validate=_validate_component,
)
metrics = Registry("metrics", singular="metric", validate=_validate_component)
commands = Registry("commands", singular="command", validate=_validate_command)

#: Every registry by kind; ``motionkit list KIND`` accepts these names (or their singular).
REGISTRIES: dict[str, Registry] = {
    r.kind: r for r in (quantizers, backbones, text_encoders, datasets, metrics, commands)
}


def get_registry(kind: str) -> Registry:
    """The registry for ``kind`` (plural, singular, or with dashes); suggests on a typo."""
    key = kind.strip().lower().replace("-", "_")
    for registry in REGISTRIES.values():
        if key in (registry.kind, registry.singular.replace(" ", "_")):
            return registry
    hint = did_you_mean(key, list(REGISTRIES))
    raise UnknownComponentError(
        f"unknown component kind {kind!r}{hint} (kinds: {', '.join(REGISTRIES)})"
    )


def create_config(kind: str, spec: str, **overrides: Any) -> Any:
    """The config of component ``spec`` (``"name"`` or ``"name:preset"``) of registry ``kind``,
    with field ``overrides``; unknown names, presets and fields are one-line errors."""
    from motionkit.config import fields

    name, _, preset = spec.partition(":")
    cls = get_registry(kind).get(name.strip())
    where = f"{get_registry(kind).singular} {name.strip()!r}"
    cfg = fields.from_preset(cls, preset.strip() or None, where)
    return fields.replace(cfg, overrides, where) if overrides else cfg


def create(kind: str, spec: str, context: dict[str, Any] | None = None, **overrides: Any) -> Any:
    """Build a component in one call (the front door, like timm's ``create_model``)::

        fsq = create("quantizers", "fsq:2^14", {"dim": 512})
        backbone = create("backbones", "prefix-lm:tiny", {"vocab": vocab, "text_dim": 32})

    ``context`` holds the build arguments the component needs from its surroundings (a latent
    width, a vocabulary); ``overrides`` change config fields.
    """
    return create_config(kind, spec, **overrides).build(**(context or {}))
