"""Cameras and proprio chosen by role, so a method's defaults fit every benchmark.

LIBERO calls its cameras ``agentview`` / ``wrist`` (``eye_in_hand``), CALVIN ``static`` / ``gripper``, LeRobot
datasets ``observation.images.image`` / ``wrist_image`` or anything else. A method that names cameras by a
benchmark's keys trains on that benchmark only; a method that asks for *roles* trains on all of them:

* view roles: ``primary`` (the third-person camera) and ``wrist`` (the in-hand camera);
* proprio roles: ``arm`` (joint positions), ``gripper`` (finger state) and ``eef`` (end-effector pose).

Each reader declares which of its keys plays each role (``data.roles`` overrides it for unusual datasets), the
roles travel in :class:`~foresight.types.DatasetInfo` with every checkpoint, and a method resolves the names in
its config against them when it is built: a name that is a key of the dataset is taken as it is (explicit names
keep working), a role becomes the key that plays it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from foresight.config import ConfigError

VIEW_ROLES = ("primary", "wrist")
PROPRIO_ROLES = ("arm", "gripper", "eef")


class RoleError(ConfigError):
    """A method asks for a view or proprio key the dataset has neither as a key nor as a role."""


def resolve(names: Iterable[str], keys: Iterable[str], roles: Mapping[str, str], kind: str) -> tuple[str, ...]:
    """Dataset keys for ``names`` (keys or roles), in order, each once (two roles may share one key).

    ``kind`` ("views" or "proprio keys") words the error, which names what the dataset has.
    """
    keys = list(keys)
    resolved: list[str] = []
    for name in names:
        key = name if name in keys else roles.get(name)
        if key is None:
            assigned = ", ".join(f"{role}={k}" for role, k in roles.items()) or "none"
            raise RoleError(
                f"the method asks for {kind[:-1]} {name!r}, which this dataset has neither as a key nor as a role; "
                f"its {kind}: {sorted(keys)}; roles: {assigned}. Name one of them in the method config, or assign the "
                f"role with data.roles.{name}=<key>"
            )
        if key not in resolved:
            resolved.append(key)
    return tuple(resolved)


def assign(
    declared: Mapping[str, str], overrides: Mapping[str, str] | None, views: Iterable[str], proprio: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """``(view_roles, proprio_roles)``: the reader's declaration, kept where the key exists, then ``data.roles``.

    An override must name a known role and a key of the right kind; a declared role whose key the dataset does not
    have (a view dropped by ``data.views``) is left unassigned rather than pointing nowhere.
    """
    views, proprio = set(views), set(proprio)
    merged = {role: key for role, key in declared.items() if key in (views if role in VIEW_ROLES else proprio)}
    for role, key in (overrides or {}).items():
        if role not in VIEW_ROLES + PROPRIO_ROLES:
            raise RoleError(f"data.roles.{role}: unknown role; view roles {VIEW_ROLES}, proprio roles {PROPRIO_ROLES}")
        pool = views if role in VIEW_ROLES else proprio
        if key not in pool:
            kind = "view" if role in VIEW_ROLES else "proprio key"
            raise RoleError(f"data.roles.{role}={key!r} is not a {kind} of the dataset; it has {sorted(pool)}")
        merged[role] = key
    view_roles = {r: merged[r] for r in VIEW_ROLES if r in merged}
    proprio_roles = {r: merged[r] for r in PROPRIO_ROLES if r in merged}
    return view_roles, proprio_roles
