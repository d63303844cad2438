"""The reclass options the native engine honours, read from the effective reclass config."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EngineSettings:
    """reclass ``settings.py`` options, with kapicorp-reclass's defaults (Kapitan's for none-override)."""

    allow_scalar_over_dict: bool = False
    allow_scalar_over_list: bool = False
    allow_list_over_scalar: bool = False
    allow_dict_over_scalar: bool = False
    allow_none_override: bool = True
    automatic_parameters: bool = True
    default_environment: str = "base"
    ignore_class_notfound: bool = False
    ignore_class_notfound_regexp: tuple[str, ...] = (".*",)
    ignore_class_notfound_warning: bool = True
    ignore_overwritten_missing_references: bool = True
    strict_constant_parameters: bool = True
    class_mappings: tuple[str, ...] = ()
    class_mappings_match_path: bool = False
    compose_node_name: bool = False
    # reclass-rs's ``${path::default}`` (opt-in extension, off as in kapicorp-reclass).
    reference_defaults: bool = False

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EngineSettings:
        """Settings from a reclass config dict (unknown keys are ignored, as reclass does)."""
        kwargs: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name in config and config[name] is not None:
                kwargs[name] = config[name]
        regexps = kwargs.get("ignore_class_notfound_regexp")
        if isinstance(regexps, str):
            kwargs["ignore_class_notfound_regexp"] = (regexps,)
        elif regexps is not None:
            kwargs["ignore_class_notfound_regexp"] = tuple(regexps)
        if "class_mappings" in kwargs:
            kwargs["class_mappings"] = tuple(kwargs["class_mappings"] or ())
        if "default_environment" in kwargs:
            kwargs["default_environment"] = str(kwargs["default_environment"])
        if config.get("kapitan_lite_reference_defaults"):
            kwargs["reference_defaults"] = True
        return cls(**kwargs)

    def class_notfound_ignored(self, name: str) -> bool:
        """True when a missing class ``name`` is skipped instead of being an error."""
        if not self.ignore_class_notfound:
            return False
        return re.match("|".join(self.ignore_class_notfound_regexp), name) is not None
