"""Typed configuration: component config dataclasses and the frozen run config built from them."""

from motionkit.config.fields import (
    ComponentConfig,
    FieldInfo,
    config_fields,
    from_dict,
    option,
    to_dict,
)
from motionkit.config.run import (
    STAGES,
    RunConfig,
    Section,
    Stage,
    load_config_file,
    resolve_run_config,
)

__all__ = [
    "STAGES",
    "ComponentConfig",
    "FieldInfo",
    "RunConfig",
    "Section",
    "Stage",
    "config_fields",
    "from_dict",
    "load_config_file",
    "option",
    "resolve_run_config",
    "to_dict",
]
