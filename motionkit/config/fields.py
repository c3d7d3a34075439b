"""Typed configuration dataclasses: fields with help, presets, coercion and (de)serialisation.

A component's config is a frozen dataclass whose every field is declared with ``option``
(default plus a one-line help), a ``PRESETS`` class variable holding at least a ``"tiny"`` preset
(field overrides small enough for tests and demos), and a ``build(**context)`` method that creates
the component, importing heavy libraries only there.

Values reach a config from three places, each handled here: Python objects from TOML or JSON
(``coerce``), strings from the command line (``parse_text``), and presets.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from motionkit.errors import ConfigError, did_you_mean

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_NONE = ("none", "null")


def option(default: Any = dataclasses.MISSING, *, help: str) -> Any:
    """A config field with a default and a one-line help shown by ``motionkit list --options``."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple (immutable) default for a config field, not a list")
    return dataclasses.field(default=default, metadata={"help": help})


class ComponentConfig:
    """Optional base for component configs (a plugin may satisfy the contract without it).

    Subclasses are frozen dataclasses; see the module docstring for the contract.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def build(self, **context: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """A config field as shown to users: name, type label, default and help."""

    name: str
    type: Any
    default: Any
    help: str

    @property
    def type_label(self) -> str:
        return type_label(self.type)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def config_fields(cls: type) -> list[FieldInfo]:
    """The fields of a config class, in declaration order, with resolved types."""
    hints = _hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default
        if default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        rows.append(FieldInfo(f.name, hints[f.name], default, f.metadata.get("help", "")))
    return rows


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def check_component_class(cls: Any) -> None:
    """Raise ``TypeError`` unless ``cls`` follows the component config contract."""
    name = getattr(cls, "__qualname__", repr(cls))
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{name} is not a dataclass class")
    if not cls.__dataclass_params__.frozen:
        raise TypeError(f"{name} must be a frozen dataclass (@dataclass(frozen=True))")
    if not callable(getattr(cls, "build", None)):
        raise TypeError(f"{name} has no build() method")
    presets = getattr(cls, "PRESETS", None)
    if not isinstance(presets, Mapping) or "tiny" not in presets:
        raise TypeError(f"{name}.PRESETS must define a 'tiny' preset")
    for f in config_fields(cls):
        if not f.help or "\n" in f.help:
            raise TypeError(f"{name}.{f.name} needs a one-line help (use motionkit.config.option)")
        if f.default is dataclasses.MISSING:
            raise TypeError(f"{name}.{f.name} needs a default")
    for preset, overrides in presets.items():
        unknown = set(overrides) - set(field_names(cls))
        if unknown:
            raise TypeError(f"{name}.PRESETS[{preset!r}] sets unknown fields {sorted(unknown)}")


# -- types ---------------------------------------------------------------------------------------


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _split_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(tp, False)``."""
    if _is_union(tp):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0], True
    return tp, False


def type_label(tp: Any) -> str:
    """Readable type name: ``int``, ``tuple[int, ...]``, ``float | None``, ``'a' | 'b'``."""
    inner, optional = _split_optional(tp)
    if get_origin(inner) is Literal:
        label = " | ".join(repr(a) for a in get_args(inner))
    elif get_origin(inner) is tuple:
        args = get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis:
            label = f"tuple[{type_label(args[0])}, ...]"
        else:
            label = f"tuple[{', '.join(type_label(a) for a in args)}]"
    else:
        label = getattr(inner, "__name__", str(inner))
    return f"{label} | None" if optional else label


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Check and convert a value from TOML/JSON/Python to type ``tp``.

    Lists become tuples, ints are accepted for floats, nothing else is converted silently.
    Raises ``ConfigError`` naming ``where`` and the expected type.
    """
    inner, optional = _split_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: expected {type_label(tp)}, got null")
    origin = get_origin(inner)
    if origin is Literal:
        if value in get_args(inner):
            return value
        raise ConfigError(f"{where}: expected one of {type_label(inner)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list ({type_label(inner)}), got {value!r}")
        args = get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in pairs)
    if inner is bool:
        if isinstance(value, bool):
            return value
    elif inner is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif inner is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):  # --lr nan would train nothing
                raise ConfigError(f"{where}: expected a finite number, got {value!r}")
            return float(value)
    elif inner is str:
        if isinstance(value, str):
            return value
    else:
        raise ConfigError(f"{where}: unsupported field type {type_label(tp)}")
    raise ConfigError(f"{where}: expected {type_label(tp)}, got {value!r}")


def parse_text(text: str, tp: Any, where: str) -> Any:
    """Parse a command-line string into type ``tp`` (``8,8,8,6,5`` -> ``(8, 8, 8, 6, 5)``)."""
    inner, optional = _split_optional(tp)
    raw = text.strip()
    if optional and raw.lower() in _NONE:
        return None
    origin = get_origin(inner)
    try:
        if origin is tuple:
            body = raw.strip("[]()").strip()
            parts = [p.strip() for p in body.split(",")] if body else []
            args = get_args(inner)
            elem = args[0] if len(args) == 2 and args[1] is Ellipsis else None
            try:
                values = [
                    parse_text(p, elem if elem is not None else args[i], f"{where}[{i}]")
                    for i, p in enumerate(parts)
                ]
            except ConfigError:
                raise ValueError from None
            return coerce(values, inner, where)
        if origin is Literal:
            choices = get_args(inner)
            for choice in choices:
                if str(choice) == raw:
                    return choice
            raise ConfigError(f"{where}: expected one of {type_label(inner)}, got {raw!r}")
        if inner is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError
        if inner is int:
            return int(raw)
        if inner is float:
            return coerce(float(raw), inner, where)  # the finite check
        if inner is str:
            return text
    except (ValueError, IndexError):
        example = {"bool": "true", "int": "3", "float": "0.5"}.get(type_label(inner), "")
        if origin is tuple:
            example = "8,8,8,6,5"
        hint = f" like {example}" if example else ""
        raise ConfigError(f"{where}: expected {type_label(tp)}{hint}, got {text!r}") from None
    raise ConfigError(f"{where}: unsupported field type {type_label(tp)}")


# -- building and converting ----------------------------------------------------------------------


def suggest(name: str, candidates: list[str]) -> str:
    """``"; did you mean 'x'?"`` for close matches, else an empty string."""
    return did_you_mean(name, candidates)


def replace(cfg: Any, values: Mapping[str, Any], where: str, *, from_text: bool = False) -> Any:
    """A copy of ``cfg`` with ``values`` applied, type-checked; unknown names suggest matches.

    ``from_text`` parses the values as command-line strings instead of TOML/JSON values.
    """
    if not values:
        return cfg
    fields = {f.name: f for f in config_fields(type(cfg))}
    converted = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{where}: unknown option {key!r}{suggest(key, list(fields))} "
                f"(options: {', '.join(fields)})"
            )
        convert = parse_text if from_text else coerce
        converted[key] = convert(value, fields[key].type, f"{key} ({where})")
    try:
        return dataclasses.replace(cfg, **converted)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def presets(cls: type) -> dict[str, dict[str, Any]]:
    """Named presets of a config class (always includes ``"tiny"`` for valid components)."""
    return dict(getattr(cls, "PRESETS", {}))


def from_preset(cls: type, preset: str | None, where: str) -> Any:
    """The defaults of ``cls`` with preset ``preset`` (``None`` = plain defaults) applied."""
    try:
        cfg = cls()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: defaults are invalid: {exc}") from None
    return apply_preset(cfg, preset, where)


def apply_preset(cfg: Any, preset: str | None, where: str) -> Any:
    """``cfg`` with the fields of preset ``preset`` of its class applied (``None``: unchanged)."""
    if preset is None or preset == "default":
        return cfg
    table = presets(type(cfg))
    if preset not in table:
        names = ["default", *table]
        raise ConfigError(
            f"{where}: unknown preset {preset!r}{suggest(preset, names)} "
            f"(presets: {', '.join(names)})"
        )
    return replace(cfg, table[preset], f"{where}:{preset}")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON/TOML-ready dict of a config (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def from_dict(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Config of class ``cls`` from a plain dict (defaults for missing keys, strict on unknown)."""
    return replace(from_preset(cls, None, where), data, where)


def dumps(data: Any) -> str:
    """Canonical JSON text used for saved configs (sorted keys are avoided to keep field order)."""
    return json.dumps(data, indent=2) + "\n"
