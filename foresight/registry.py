"""Method and environment registries, filled by decorators and by entry points.

In-tree methods and environments are declared as entry points in ``pyproject.toml`` exactly as an outside
package would declare its own (groups ``foresight.methods`` and ``foresight.envs``), so the plugin path is the
one the project itself uses. Entry points are loaded lazily: asking for ``clad`` imports CLaD's module only.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

T = TypeVar("T")

METHOD_GROUP = "foresight.methods"
ENV_GROUP = "foresight.envs"


class RegistryError(KeyError):
    """An unknown or ill-declared plugin name. Subclasses KeyError so lookups read naturally."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class PluginInfo:
    name: str
    provider: str  # the distribution that declares it, or the module for decorator-only registrations
    target: str  # "module:attr"


class Registry:
    """Name -> class, from ``register`` decorators and lazily-loaded entry points of one group."""

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorator(cls: type[T]) -> type[T]:
            existing = self._classes.get(name)
            if existing is not None and existing is not cls and _qualname(existing) != _qualname(cls):
                raise RegistryError(
                    f"{self.kind} {name!r} is registered twice: by {_qualname(existing)} and by {_qualname(cls)}"
                )
            cls.name = name  # type: ignore[attr-defined]
            self._classes[name] = cls
            return cls

        return decorator

    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def get(self, name: str) -> type:
        if name in self._classes:
            return self._classes[name]
        entry_points = self._entry_points()
        if name not in entry_points:
            raise RegistryError(self._unknown_message(name, entry_points))
        ep = entry_points[name]
        try:
            loaded = ep.load()
        except Exception as exc:
            raise RegistryError(
                f"{self.kind} {name!r} is declared by {_provider(ep)} as {ep.value!r}, but importing it failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        cls = self._classes.get(name)
        if cls is None:
            if not isinstance(loaded, type):
                raise RegistryError(f"entry point {self.kind} {name!r} ({ep.value}) is not a class")
            self.register(name)(loaded)
            cls = loaded
        return cls

    def available(self) -> dict[str, PluginInfo]:
        found = {name: PluginInfo(name, _provider(ep), ep.value) for name, ep in sorted(self._entry_points().items())}
        for name, cls in self._classes.items():
            found.setdefault(name, PluginInfo(name, cls.__module__, _qualname(cls)))
        return dict(sorted(found.items()))

    def _unknown_message(self, name: str, entry_points: dict[str, Any]) -> str:
        names = sorted(set(entry_points) | set(self._classes))
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(names) if names else "none installed"
        return (
            f"unknown {self.kind} {name!r}.{hint} Available: {listing}. A plugin package declares "
            f"{self.kind}s in the {self.group!r} entry-point group (see docs/plugins.md)."
        )


class PackageRegistry(Registry):
    """A registry whose built-ins are the modules of one package, each registering itself when imported.

    Every module of ``package`` is imported once, on the first lookup, so a new module dropped into the package
    needs no edit anywhere. A module that fails to import (a missing optional dependency) must not hide the
    others: its error is kept and reported only if the name asked for turns out to be missing.
    """

    def __init__(self, group: str, kind: str, package: str, base: type) -> None:
        super().__init__(group, kind)
        self.package = package
        self.base = base
        self._import_errors: dict[str, str] = {}
        self._loaded = False

    def _load_builtins(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            qualified = f"{self.package}.{module.name}"
            try:
                importlib.import_module(qualified)
            except Exception as exc:
                self._import_errors[qualified] = f"{type(exc).__name__}: {exc}"

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorator(cls: type[T]) -> type[T]:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                base = f"{self.base.__module__}.{self.base.__qualname__}"
                raise TypeError(f"the {self.kind} {name!r} must be a subclass of {base}, got {cls}")
            return Registry.register(self, name)(cls)

        return decorator

    def get(self, name: str) -> type:
        self._load_builtins()
        try:
            return super().get(name)
        except RegistryError as exc:
            if self._import_errors:
                failures = "; ".join(f"{mod}: {err}" for mod, err in sorted(self._import_errors.items()))
                raise RegistryError(f"{exc} (some built-in {self.kind} modules failed to import: {failures})") from None
            raise

    def build(self, name: str, **kwargs: Any) -> Any:
        """An instance of ``name`` built with ``kwargs``; arguments its constructor does not take name it."""
        cls = self.get(name)
        try:
            inspect.signature(cls).bind(**kwargs)
        except TypeError as exc:
            raise TypeError(
                f"{self.kind} {name!r} ({cls.__module__}.{cls.__qualname__}{inspect.signature(cls)}): {exc}"
            ) from None
        built = cls(**kwargs)
        if not isinstance(built, self.base):
            raise TypeError(f"{self.kind} {name!r} built a {type(built).__name__}, not a {self.base.__qualname__}")
        return built

    def names(self) -> list[str]:
        """Every name :meth:`build` accepts, sorted."""
        self._load_builtins()
        return sorted(self.available())


def _qualname(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _provider(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else ep.value.split(":")[0]


METHODS = Registry(METHOD_GROUP, "method")
ENVS = Registry(ENV_GROUP, "env")

register_method = METHODS.register
register_env = ENVS.register
get_method = METHODS.get
get_env = ENVS.get
