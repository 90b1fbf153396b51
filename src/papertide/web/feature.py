"""What a feature of the site declares, in one place: its routes, which of its addresses the
page cache may keep for anonymous readers, which take larger bodies, and its navigation links.

Every module (or package) in ``papertide.web.features`` exposes one ``feature``; the app
factory finds them all (``load_features``) and puts their routes in an order that does not
depend on the order they were found (``route_order``), the most specific address first, as
werkzeug orders its URL rules. A new page is a feature module, a template and a test.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from fastapi import APIRouter
from starlette.routing import BaseRoute, Route, compile_path

Audience = Literal["everyone", "signed_in", "signed_out"]
_PARAM = re.compile(r"{[^}]*}")


@dataclass(frozen=True, slots=True)
class NavLink:
    """A link in the site's navigation bar.

    ``href`` and ``label`` may hold ``{username}`` (the signed-in reader's name) and
    ``{here}`` (the page the reader is on, URL-encoded). ``current`` lists the addresses on
    which the link is marked as the reader's place (aria-current): exact paths, or prefixes
    ending in ``*``; by default the link's own path.
    """

    label: str
    href: str
    order: int
    audience: Audience = "everyone"
    current: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Feature:
    """A feature's routes and what the site around them needs to know.

    ``cached``: GET routes (their paths as written on the routes) whose answers are the same
    for every anonymous reader, so the page cache may keep them. ``larger_bodies``: routes
    whose request bodies may exceed the site's cap, and by what factor.
    """

    name: str
    routers: Sequence[APIRouter]
    cached: tuple[str, ...] = ()
    larger_bodies: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    nav: tuple[NavLink, ...] = ()

    def check(self) -> None:
        """Raise ValueError if a declared path is not one of this feature's routes."""
        paths: dict[str, set[str]] = {}
        for router in self.routers:
            for route in router.routes:
                if isinstance(route, Route):
                    paths.setdefault(route.path, set()).update(route.methods or ())
        for path in self.cached:
            if "GET" not in paths.get(path, set()):
                raise ValueError(f"feature {self.name}: cached path {path!r} is not a GET route")
        for path in self.larger_bodies:
            if not paths.get(path, set()) - {"GET", "HEAD"}:
                raise ValueError(f"feature {self.name}: {path!r} takes no body")


FEATURES = "papertide.web.features"


def load_features(packages: Sequence[str] = (FEATURES,)) -> list[Feature]:
    """Every feature of ``packages``: the ``feature`` of each of their modules, by name."""
    features = []
    for package in packages:
        found = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(found.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{package}.{info.name}")
            feature = getattr(module, "feature", None)
            if not isinstance(feature, Feature):
                raise TypeError(f"{module.__name__} declares no `feature = Feature(...)`")
            feature.check()
            features.append(feature)
    return features


def template_folders(packages: Sequence[str]) -> list[Path]:
    """The ``templates`` folders that packages of features carry beside their modules."""
    folders = []
    for package in packages:
        for path in importlib.import_module(package).__path__:
            if (Path(path) / "templates").is_dir():
                folders.append(Path(path) / "templates")
    return folders


class PathSet:
    """Matches request paths against route paths as written (``/papers/{ref:path}``).

    Given ``among``, every route path of the site in the order they are tried, a request path
    is in the set only if the route that will answer it (the first whose pattern matches) is
    one of ``paths``: ``/papers/ID/cover.svg`` is not a paper page, although
    ``/papers/{ref:path}`` alone would match it."""

    def __init__(self, paths: Iterable[str], among: Iterable[str] = ()) -> None:
        paths = tuple(paths)
        self.exact = frozenset(p for p in paths if "{" not in p)
        self.patterns = [compile_path(p)[0] for p in paths if "{" in p]
        members = set(paths)
        self.routes = [(compile_path(p)[0], p in members) for p in among]

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        for pattern, member in self.routes:
            if pattern.match(path):
                return member
        return path in self.exact or any(p.match(path) for p in self.patterns)


def route_order(route: BaseRoute) -> tuple[int, int]:
    """Sort key: routes with a catch-all ``{x:path}`` last; among the rest, and among those,
    the one with more fixed characters first (``/lists/{slug}.atom`` before ``/lists/{slug}``,
    ``/papers/{ref:path}/similar`` before ``/papers/{ref:path}``)."""
    path = getattr(route, "path", "")
    return (":path}" in path, -len(_PARAM.sub("", path)))


def ordered_routes(features: list[Feature]) -> list[BaseRoute]:
    """Every feature's routes in the order they are tried: the most specific first."""
    routes = (route for f in features for router in f.routers for route in router.routes)
    return sorted(routes, key=route_order)


def route_paths(features: list[Feature]) -> list[str]:
    """The features' route paths as written, in the order they are tried."""
    return [getattr(route, "path", "") for route in ordered_routes(features)]


__all__ = [
    "FEATURES",
    "Feature",
    "NavLink",
    "PathSet",
    "load_features",
    "ordered_routes",
    "route_order",
    "route_paths",
    "template_folders",
]
