"""Registry: built-ins, entry-point plugins (fake dist-info), broken plugins, duplicates."""

from __future__ import annotations

import sys
import warnings

import pytest

from motionkit import registry
from motionkit.config.fields import check_component_class, config_fields, presets
from motionkit.errors import (
    DuplicateComponentError,
    PluginLoadError,
    PluginWarning,
    UnknownComponentError,
)
from motionkit.registry import Registry, get_registry, quantizers

from .conftest import FAKE_QUANTIZER


def test_builtin_quantizers_are_registered_with_descriptions():
    entries = {e.name: e for e in quantizers.entries()}
    assert {"fsq", "vq", "rvq"} <= set(entries)
    for name in ("fsq", "vq", "rvq"):
        assert entries[name].builtin
        assert entries[name].source == "motionkit"
        assert entries[name].target.startswith("motionkit.quantizers.")
        assert entries[name].description


@pytest.mark.parametrize("kind", [k for k in registry.REGISTRIES if k != "commands"])
def test_every_registered_component_follows_the_config_contract(kind):
    reg = registry.REGISTRIES[kind]
    for name in reg.names():
        try:
            cls = reg.get(name)
        except PluginLoadError as exc:
            pytest.skip(f"plugin failed to load: {exc}")
        check_component_class(cls)
        assert "tiny" in presets(cls)
        for field in config_fields(cls):
            assert field.help.strip(), f"{kind} {name}.{field.name} has no help"
        cls()  # defaults are valid


def test_plugin_is_listed_without_importing_it(fake_plugin):
    fake_plugin(
        "fake-quant",
        {"motionkit.quantizers": {"fake": "fake_quant_mod:FakeConfig"}},
        {"fake_quant_mod": FAKE_QUANTIZER},
        summary="Fake quantizers for tests",
    )
    entry = quantizers.entry("fake")
    assert entry.source == "fake-quant"
    assert entry.version == "1.0"
    assert entry.description == "Fake quantizers for tests"
    assert "fake" in quantizers.names()
    assert "fake_quant_mod" not in sys.modules
    cls = quantizers.get("fake")
    assert "fake_quant_mod" in sys.modules
    assert cls.__name__ == "FakeConfig"
    assert quantizers.get("fake") is cls  # loaded once


def test_broken_plugin_warns_once_and_breaks_nothing_else(fake_plugin):
    fake_plugin(
        "broken-plugin",
        {"motionkit.quantizers": {"broken": "broken_mod:Config"}},
        {"broken_mod": "import a_module_that_does_not_exist\n"},
    )
    assert "broken" in quantizers.names()
    with pytest.warns(PluginWarning) as record, pytest.raises(PluginLoadError, match="broken"):
        quantizers.get("broken")
    assert len(record) == 1
    message = str(record[0].message)
    assert "broken-plugin" in message and "a_module_that_does_not_exist" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second attempt must not warn again
        with pytest.raises(PluginLoadError):
            quantizers.get("broken")
    assert quantizers.get("fsq").__name__ == "FSQConfig"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded, failures = quantizers.load_all()
    assert {"fsq", "vq", "rvq"} <= set(loaded)
    assert set(failures) == {"broken"}


def test_plugin_object_that_is_not_a_component_is_rejected(fake_plugin):
    fake_plugin(
        "bad-object",
        {"motionkit.quantizers": {"notconfig": "bad_object_mod:thing"}},
        {"bad_object_mod": "thing = 42\n"},
    )
    with (
        pytest.warns(PluginWarning, match="bad-object"),
        pytest.raises(PluginLoadError, match="not a dataclass"),
    ):
        quantizers.get("notconfig")


def test_duplicate_name_is_an_error_naming_both_sources(fake_plugin):
    fake_plugin(
        "dup-plugin",
        {"motionkit.quantizers": {"fsq": "dup_mod:FakeConfig"}},
        {"dup_mod": FAKE_QUANTIZER},
    )
    assert "fsq" in quantizers.duplicates()
    with pytest.raises(DuplicateComponentError) as info:
        quantizers.get("fsq")
    assert "motionkit built-in" in str(info.value)
    assert "dup-plugin" in str(info.value)
    assert "dup_mod" not in sys.modules
    assert quantizers.get("vq").__name__ == "VQConfig"  # other names unaffected


def test_two_plugins_with_one_name_conflict(fake_plugin):
    for dist in ("first-dist", "second-dist"):
        fake_plugin(
            dist,
            {"motionkit.quantizers": {"same": f"{dist.replace('-', '_')}_mod:FakeConfig"}},
            {f"{dist.replace('-', '_')}_mod": FAKE_QUANTIZER},
        )
    with pytest.raises(DuplicateComponentError, match=r"first-dist.*second-dist"):
        quantizers.entry("same")


def test_builtin_registered_twice_is_an_error():
    reg = Registry("widgets", singular="widget")

    @reg.register("a")
    class One:
        """One."""

    @reg.register("a")  # same target again (module reload) is fine
    class One:  # noqa: F811
        """One."""

    class Two:
        """Two."""

    with pytest.raises(DuplicateComponentError, match="registered twice"):
        reg.register("a")(Two)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownComponentError) as info:
        quantizers.get("fqs")
    text = str(info.value)
    assert "unknown quantizer 'fqs'" in text
    assert "did you mean 'fsq'" in text
    assert "available: " in text


def test_unknown_kind_suggests():
    assert get_registry("quantizer") is quantizers
    assert get_registry("text-encoders").kind == "text_encoders"
    with pytest.raises(UnknownComponentError, match="did you mean 'quantizers'"):
        get_registry("quantizerz")


def test_environment_variable_disables_plugins(fake_plugin, monkeypatch):
    fake_plugin(
        "fake-quant",
        {"motionkit.quantizers": {"fake": "fake_quant_mod:FakeConfig"}},
        {"fake_quant_mod": FAKE_QUANTIZER},
    )
    assert "fake" in quantizers.names()
    monkeypatch.setenv(registry.DISABLE_PLUGINS_ENV, "1")
    assert "fake" not in quantizers.names()
    assert {"fsq", "vq", "rvq"} <= set(quantizers.names())
    monkeypatch.setenv(registry.DISABLE_PLUGINS_ENV, "0")
    assert "fake" in quantizers.names()


def test_groups_are_read_per_kind(fake_plugin):
    fake_plugin(
        "multi-plugin",
        {
            "motionkit.backbones": {"fakebone": "multi_mod:FakeConfig"},
            "motionkit.metrics": {"fakemetric": "multi_mod:FakeConfig"},
            "unrelated.group": {"x": "multi_mod:FakeConfig"},
        },
        {"multi_mod": FAKE_QUANTIZER},
    )
    plugin_backbones = [e.name for e in registry.backbones.entries() if not e.builtin]
    assert plugin_backbones == ["fakebone"]
    assert "fakebone" in registry.backbones.names() and "prefix-lm" in registry.backbones.names()
    assert registry.metrics.names() == ["fakemetric"]
    assert "fakebone" not in quantizers.names()
    assert registry.backbones.get("fakebone").__name__ == "FakeConfig"
