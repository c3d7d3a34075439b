"""Typed configuration: component config dataclasses and the frozen run config built from them.

``motionkit.config.fields`` (``option``, presets, coercion) has no dependencies inside motionkit,
so component modules import it freely; the run-config names (``RunConfig``, ``stages``, ...) live
in ``motionkit.config.run`` and are loaded from here on first use, which keeps the import graph
free of cycles (``run`` imports the component configs).
"""

from typing import Any

from motionkit.config.fields import (
    ComponentConfig,
    FieldInfo,
    config_fields,
    from_dict,
    option,
    to_dict,
)

_RUN_NAMES = (
    "RunConfig",
    "Section",
    "Stage",
    "get_stage",
    "load_config_file",
    "resolve_run_config",
    "stages",
)

__all__ = [
    "ComponentConfig",
    "FieldInfo",
    "config_fields",
    "from_dict",
    "option",
    "to_dict",
    *_RUN_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _RUN_NAMES:
        from motionkit.config import run

        return getattr(run, name)
    raise AttributeError(f"module 'motionkit.config' has no attribute {name!r}")
