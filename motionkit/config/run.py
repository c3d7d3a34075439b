"""From a config file and command-line options to one frozen ``RunConfig``.

Precedence, lowest first: the config class defaults, a preset (``--preset tiny`` for every section,
or ``--quantizer fsq:tiny`` for one component), the config file (``--config exp.toml`` or a saved
``config.json``), then explicit options such as ``--levels 8,8,8,6,5``.

Options of the chosen components map onto their config fields by name. A field name that two
sections share is ambiguous and must be qualified (``--quantizer.dim 256``). Unknown options fail
with close-match suggestions. Config files use the same shape as the saved ``config.json``::

    stage = "tokenizer"
    [quantizer]
    name = "fsq"
    levels = [8, 8, 8, 6, 5]
    [train]
    lr = 2e-4
"""

from __future__ import annotations

import importlib
import json
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from motionkit.config import fields as F
from motionkit.errors import ConfigError, MotionkitError, MotionkitWarning
from motionkit.io import atomic_write_text
from motionkit.registry import Registry, get_registry

CONFIG_FILENAME = "config.json"
_RESERVED_KEYS = ("stage", "preset", "motionkit_version")


@dataclass(frozen=True)
class Section:
    """One table of a run config: a registered component (``registry``) or a fixed config class."""

    name: str
    help: str
    registry: str | None = None
    config_cls: type | None = None
    default: str | None = None

    @property
    def is_component(self) -> bool:
        return self.registry is not None

    def get_registry(self) -> Registry:
        assert self.registry is not None
        return get_registry(self.registry)


@dataclass(frozen=True)
class Stage:
    """A kind of training run: the sections its config holds, in order, and how it trains.

    Attributes:
        train: ``"module:function"`` called as ``function(config, run_dir, resume=...)``; it
            returns the final validation metrics. Imported only when a run starts.
    """

    name: str
    description: str
    sections: tuple[Section, ...]
    train: str

    def section(self, name: str) -> Section:
        for section in self.sections:
            if section.name == name:
                return section
        known = [s.name for s in self.sections]
        raise ConfigError(
            f"stage {self.name!r} has no section {name!r}{F.suggest(name, known)} "
            f"(sections: {', '.join(known)})"
        )

    def trainer(self) -> Any:
        """The stage's training function."""
        module, _, attr = self.train.partition(":")
        return getattr(importlib.import_module(module), attr)


#: Modules that register the built-in stages (config-only imports: no torch).
STAGE_MODULES = ("motionkit.tokenizer.stage", "motionkit.generator.stage", "motionkit.eval.stage")
_STAGES: dict[str, Stage] = {}
_builtin_stages_loaded = False
#: The stage of ``motionkit train`` without ``--stage`` and without a config file's stage.
DEFAULT_STAGE = "pipeline"


def register_stage(stage: Stage) -> Stage:
    """Add a stage (called by the stage's own module at import)."""
    _STAGES[stage.name] = stage
    return stage


def stages() -> dict[str, Stage]:
    """Every stage by name."""
    global _builtin_stages_loaded
    if not _builtin_stages_loaded:
        _builtin_stages_loaded = True
        for module in STAGE_MODULES:
            importlib.import_module(module)
    return dict(_STAGES)


def get_stage(name: str) -> Stage:
    known = stages()
    if name not in known:
        raise ConfigError(
            f"unknown stage {name!r}{F.suggest(name, list(known))} (stages: {', '.join(known)})"
        )
    return known[name]


@dataclass(frozen=True)
class RunConfig:
    """The complete, frozen configuration of one run.

    Attributes:
        stage: the stage name (see ``stages()``).
        sections: config object per section name, in the stage's order.
        names: registry name of each component section that is set.
    """

    stage: str
    sections: Mapping[str, Any]
    names: Mapping[str, str]

    def __getitem__(self, section: str) -> Any:
        if section not in self.sections:
            raise KeyError(f"run config has no section {section!r}")
        return self.sections[section]

    def __contains__(self, section: object) -> bool:
        return section in self.sections

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the config-file shape, ready for JSON."""
        from motionkit import __version__

        out: dict[str, Any] = {"stage": self.stage, "motionkit_version": __version__}
        for section, cfg in self.sections.items():
            table = {"name": self.names[section]} if section in self.names else {}
            table.update(F.to_dict(cfg))
            out[section] = table
        return out

    def to_json(self) -> str:
        return F.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> RunConfig:
        """Rebuild a run config from its dict form; strict about unknown sections and fields."""
        return resolve_run_config(file_data=data, file_label=source)

    def save(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/config.json`` atomically and return its path."""
        return atomic_write_text(Path(run_dir) / CONFIG_FILENAME, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Load ``config.json`` (or a run directory holding one)."""
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILENAME
        return cls.from_dict(load_config_file(path), source=str(path))


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML or JSON config file into a dict; one-line errors for missing or bad files.

    A name without a suffix that is not a file names a packaged config (``--config demo``).
    """
    path = Path(path)
    if not path.is_file() and not path.suffix:
        from motionkit.configs import packaged_configs

        known = packaged_configs()
        if str(path) in known:
            path = known[str(path)]
        else:
            hint = F.suggest(str(path), list(known))
            raise ConfigError(
                f"no config file or packaged config {str(path)!r}{hint} "
                f"(packaged: {', '.join(sorted(known))}; see 'motionkit list configs')"
            )
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found; check the path given to --config")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config file {str(path)!r} must end in .toml or .json")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a table of sections at its top level")
    return data


def _split_choice(text: str) -> tuple[str, str | None]:
    name, _, preset = text.partition(":")
    return name.strip(), (preset.strip() or None)


def _normalise(key: str) -> str:
    return key.strip().replace("-", "_")


def resolve_run_config(
    stage: str | None = None,
    *,
    choices: Mapping[str, str | None] | None = None,
    config_file: str | Path | None = None,
    file_data: Mapping[str, Any] | None = None,
    file_label: str = "config",
    args: Sequence[str] = (),
    preset: str | None = None,
) -> RunConfig:
    """Combine defaults, presets, a config file and command-line options into a RunConfig.

    Args:
        stage: stage name; falls back to the file's ``stage``, then ``DEFAULT_STAGE``.
        choices: component per section from explicit options, ``"name"`` or ``"name:preset"``.
        config_file: TOML or JSON file with defaults (``file_data`` gives them as a dict instead).
        args: leftover command-line tokens, e.g. ``["--levels", "8,8,8,6,5", "--train.lr=1e-3"]``.
        preset: preset applied to every section (e.g. ``"tiny"``); falls back to the file's.

    Raises:
        ConfigError: any unknown, ambiguous or malformed option, value, section or file.
        UnknownComponentError: a component name not in its registry (with suggestions).
    """
    data: dict[str, Any] = dict(file_data or {})
    if config_file is not None:
        data = load_config_file(config_file)
        file_label = str(config_file)
    choices = {_normalise(k): v for k, v in (choices or {}).items() if v}

    file_stage = data.get("stage")
    if file_stage is not None and not isinstance(file_stage, str):
        raise ConfigError(f"{file_label}: 'stage' must be a string")
    spec = get_stage(stage or file_stage or DEFAULT_STAGE)
    section_names = [s.name for s in spec.sections]
    for key, value in data.items():
        if key in _RESERVED_KEYS:
            continue
        if key not in section_names:
            raise ConfigError(
                f"{file_label}: unknown section {key!r}{F.suggest(key, section_names)} "
                f"(stage {spec.name!r} has: {', '.join(section_names)})"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{file_label}: [{key}] must be a table of options")
    for key in choices:
        section = spec.section(key)
        if not section.is_component:
            raise ConfigError(f"--{key} names a component, but [{key}] is a fixed section")

    global_preset = preset or data.get("preset")
    if global_preset is not None and not isinstance(global_preset, str):
        raise ConfigError(f"{file_label}: 'preset' must be a string")

    sections: dict[str, Any] = {}
    names: dict[str, str] = {}
    for section in spec.sections:
        table = dict(data.get(section.name, {}))
        where = section.name
        if section.is_component:
            file_choice = table.pop("name", None)
            if file_choice is not None and not isinstance(file_choice, str):
                raise ConfigError(f"{file_label}: [{section.name}] name must be a string")
            choice = choices.get(section.name) or file_choice or section.default
            if choice is None:
                if table:
                    raise ConfigError(
                        f"{file_label}: [{section.name}] sets options but no component name; "
                        f'add name = "..." (see motionkit list {section.registry})'
                    )
                continue
            name, own_preset = _split_choice(choice)
            cls = section.get_registry().get(name)
            file_name, file_preset = _split_choice(file_choice or "")
            if file_choice is not None and file_name != name:
                if table or file_preset:
                    dropped = sorted(table) + ([f"preset {file_preset!r}"] if file_preset else [])
                    warnings.warn(
                        f"{file_label}: ignoring [{section.name}] {', '.join(dropped)} written "
                        f"for {file_name!r}, because --{section.name} chose {name!r}",
                        MotionkitWarning,
                        stacklevel=2,
                    )
                table = {}
            elif own_preset is None:
                own_preset = file_preset
            where = f"{section.name} {name!r}"
            names[section.name] = name
        else:
            assert section.config_cls is not None
            cls, own_preset = section.config_cls, None
        cfg = F.apply_preset(F.from_preset(cls, global_preset, where), own_preset, where)
        sections[section.name] = F.replace(cfg, table, f"{file_label} [{section.name}]")

    overrides = parse_overrides(args, sections)
    for section_name, values in overrides.items():
        where = f"{section_name} {names[section_name]!r}" if section_name in names else section_name
        sections[section_name] = F.replace(sections[section_name], values, where, from_text=True)
    return RunConfig(spec.name, MappingProxyType(sections), MappingProxyType(names))


def _is_bool(tp: Any) -> bool:
    return tp is bool or F.type_label(tp) == "bool | None"


def parse_overrides(args: Sequence[str], sections: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Map ``--field value`` / ``--section.field=value`` tokens onto sections.

    Bool fields accept a bare ``--flag`` or ``--no-flag``. Returns ``{section: {field: text}}``.
    """
    field_types = {
        name: {f.name: f.type for f in F.config_fields(type(cfg))} for name, cfg in sections.items()
    }
    owners: dict[str, list[str]] = {}
    for name, table in field_types.items():
        for field_name in table:
            owners.setdefault(field_name, []).append(name)
    spellings = [f"--{k.replace('_', '-')}" for k in owners] + [
        f"--{s}.{k.replace('_', '-')}" for s, table in field_types.items() for k in table
    ]

    def locate(key: str) -> tuple[str, str] | None:
        section, dot, field_name = key.rpartition(".")
        if dot:
            section = _normalise(section)
            if section in field_types and field_name in field_types[section]:
                return section, field_name
            return None
        found = owners.get(field_name, [])
        if len(found) > 1:
            qualified = " or ".join(
                f"--{s.replace('_', '-')}.{field_name.replace('_', '-')}" for s in found
            )
            raise ConfigError(
                f"--{field_name.replace('_', '-')} is ambiguous: it is an option of "
                f"{' and '.join(found)}; write {qualified}"
            )
        return (found[0], field_name) if found else None

    overrides: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or token == "--":
            raise ConfigError(
                f"unexpected argument {token!r}; options look like --levels 8,8,8,6,5"
            )
        raw_key, has_value, value = token[2:].partition("=")
        key = _normalise(raw_key)
        target = locate(key)
        negated = False
        if target is None and key.rpartition(".")[2].startswith("no_"):
            prefix, dot, rest = key.rpartition(".")
            candidate = locate(f"{prefix}{dot}{rest[3:]}")
            if candidate is not None and _is_bool(field_types[candidate[0]][candidate[1]]):
                target, negated = candidate, True
        if target is None:
            shown = "--" + raw_key
            close = F.suggest(shown, spellings)
            raise ConfigError(
                f"no such option: {shown}{close} "
                "(run 'motionkit list --options NAME' to see a component's options)"
            )
        section, field_name = target
        tp = field_types[section][field_name]
        if has_value and negated:
            raise ConfigError(
                f"--{raw_key} takes no value; write --{raw_key} or --{raw_key[3:]}=..."
            )
        if has_value:
            text = value
        elif _is_bool(tp) and (i + 1 >= len(args) or args[i + 1].startswith("--")):
            text = "false" if negated else "true"
        else:
            if i + 1 >= len(args):
                raise ConfigError(f"option --{raw_key} needs a value ({F.type_label(tp)})")
            text = args[i + 1]
            i += 1
        overrides.setdefault(section, {})[field_name] = text
        i += 1
    return overrides


def prepare_run_dir(run_dir: str | Path, config: RunConfig, *, environment: bool = False) -> Path:
    """Create ``run_dir`` and save ``config.json`` there, refusing to replace a different config.

    With ``environment=True`` (a run about to train), also append this process's record (versions,
    machine, git commit, command line, UTC time) to ``run_dir/environment.json``; see
    ``motionkit.provenance``. A resumed run appends its record with
    ``motionkit.provenance.record_environment`` instead, so the original is never overwritten.
    """
    run_dir = Path(run_dir)
    existing = run_dir / CONFIG_FILENAME
    if existing.exists():
        try:
            previous = RunConfig.load(existing)
        except MotionkitError:
            previous = None
        if previous != config:
            raise ConfigError(
                f"{existing} already holds a different configuration; "
                "choose a new --out (nothing was overwritten)"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    path = config.save(run_dir)
    if environment:
        from motionkit.provenance import record_environment

        record_environment(run_dir)
    return path
