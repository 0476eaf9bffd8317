import pytest

from foresight.interfaces import Method
from foresight.registry import Registry, RegistryError, get_method


def test_unknown_name_suggests_and_lists_available():
    with pytest.raises(RegistryError) as err:
        get_method("dq")
    message = str(err.value)
    assert "unknown method 'dq'" in message and "Did you mean 'dp'" in message
    assert "foresight.methods" in message


def test_in_tree_method_loads_through_its_entry_point_lazily():
    registry = Registry("foresight.methods", "method")
    assert "dp" not in registry._classes  # nothing imported until asked
    cls = registry.get("dp")
    assert issubclass(cls, Method) and cls.name == "dp"
    info = registry.available()["dp"]
    assert info.provider.startswith("foresight ") and info.target == "foresight.methods.dp:DiffusionPolicy"


def test_decorator_registers_and_rejects_a_different_class_under_the_same_name():
    registry = Registry("foresight.tests.none", "thing")

    @registry.register("a")
    class A:
        pass

    assert registry.get("a") is A and A.name == "a"
    with pytest.raises(RegistryError, match="registered twice"):

        @registry.register("a")
        class B:
            pass


def test_broken_plugin_import_is_reported_with_its_provider(monkeypatch):
    from importlib import metadata

    registry = Registry("foresight.methods", "method")
    broken = metadata.EntryPoint(name="broken", value="no_such_module_xyz:Thing", group="foresight.methods")
    monkeypatch.setattr(registry, "_entry_points", lambda: {"broken": broken})
    with pytest.raises(RegistryError, match=r"declared by no_such_module_xyz.*importing it failed: ModuleNotFound"):
        registry.get("broken")


def test_list_command_prints_methods_with_their_package(capsys):
    from foresight.__main__ import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "methods (foresight.methods):" in out
    assert any(line.split()[:2] == ["dp", "foresight"] for line in out.splitlines())
