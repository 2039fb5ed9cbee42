"""Service dependencies: which service depends on which, so that a cascading failure can be
handled as one incident with its upstream cause first.

An edge `service -> depends_on` says that when `depends_on` fails, `service` may fail with it.
The edges form a directed graph without cycles: a self-dependency, a duplicate and an edge that
would close a cycle are refused. Changing a service's dependencies is managing that service
(the dependent one); both ends must be services the caller may read (forbidden looks missing).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.db import SERVICE_GRAPH_LOCK, one_writer_at_a_time
from govsvc.errors import AlreadyExists, Conflict, Invalid, NotFound
from govsvc.org.models import BusinessUnit, Service, ServiceDependency
from govsvc.org.service import SERVICES, get_service, service_to_manage, services_by_id
from govsvc.usecase import UseCase

HIDDEN = "(a service you cannot see)"

# ---------------------------------------------------------------------------- use cases


async def add_dependency(uc: UseCase, *, service_id: int, depends_on_id: int) -> Service:
    """Record that `service_id` depends on `depends_on_id`; returns the dependent service.

    Refused: a service depending on itself (Invalid), an edge that exists (AlreadyExists), and
    one that would close a cycle (Conflict, whose message names the cycle's path)."""
    _refuse_self(service_id, depends_on_id)
    session = uc.session
    service = await service_to_manage(session, uc.caller, service_id, field="serviceId")
    target = await get_service(session, uc.caller, depends_on_id, field="dependsOnId")
    # One change to the graph at a time: two edges added at once cannot close a cycle.
    await one_writer_at_a_time(session, SERVICE_GRAPH_LOCK)
    edges = await _all_edges(session)
    if target.id in edges.get(service.id, set()):
        raise AlreadyExists(f"{service.code} already depends on {target.code}", field="dependsOnId")
    back = path_between(edges, target.id, service.id)
    if back is not None:
        codes = await _codes(session, uc.caller, back)
        cycle = " -> ".join([service.code, *(codes[pk] for pk in back)])
        raise Conflict(
            f"{service.code} cannot depend on {target.code}: that would make a cycle, {cycle}",
            field="dependsOnId",
        )
    session.add(
        ServiceDependency(
            service_id=service.id, depends_on_id=target.id, created_by=uc.caller.actor
        )
    )
    try:
        await session.flush()
    except IntegrityError:  # another writer got there first (the lock makes this unlikely)
        raise AlreadyExists(
            f"{service.code} already depends on {target.code}", field="dependsOnId"
        ) from None
    await _audit(uc, "service.dependency_add", service, target)
    return service


async def remove_dependency(uc: UseCase, *, service_id: int, depends_on_id: int) -> Service:
    """Forget that `service_id` depends on `depends_on_id`; returns the dependent service.

    An edge that does not exist is NotFound (the audit log keeps the ones that did)."""
    _refuse_self(service_id, depends_on_id)
    session = uc.session
    service = await service_to_manage(session, uc.caller, service_id, field="serviceId")
    target = await get_service(session, uc.caller, depends_on_id, field="dependsOnId")
    edge = (
        await session.execute(
            select(ServiceDependency).where(
                ServiceDependency.service_id == service.id,
                ServiceDependency.depends_on_id == target.id,
            )
        )
    ).scalar_one_or_none()
    if edge is None:
        raise NotFound(f"{service.code} does not depend on {target.code}", field="dependsOnId")
    await session.delete(edge)
    await session.flush()
    await _audit(uc, "service.dependency_remove", service, target)
    return service


def _refuse_self(service_id: int, depends_on_id: int) -> None:
    if service_id == depends_on_id:
        raise Invalid("a service cannot depend on itself", field="dependsOnId")


class DependencyGraph:
    """The whole graph in memory (one query), for a caller that asks about many services at
    once (alert correlation over a payload). Same answers as `related_services`."""

    def __init__(self, edges: Mapping[int, Iterable[int]]):
        self.depends_on = {svc: set(deps) for svc, deps in edges.items()}
        self.dependents: dict[int, set[int]] = {}
        for svc, deps in self.depends_on.items():
            for dep in deps:
                self.dependents.setdefault(dep, set()).add(svc)

    def related(self, service_id: int, *, max_hops: int) -> dict[int, int]:
        if max_hops < 0:
            raise ValueError("max_hops must be 0 or more")
        related: dict[int, int] = {}
        seen = {service_id}
        up, down = {service_id}, {service_id}
        for hop in range(1, max_hops + 1):
            next_up = {d for s in up for d in self.depends_on.get(s, ())} - seen
            next_down = {d for s in down for d in self.dependents.get(s, ())} - seen - next_up
            related.update(dict.fromkeys(next_up, hop))
            related.update(dict.fromkeys(next_down, -hop))
            seen |= next_up | next_down
            up, down = next_up, next_down
            if not up and not down:
                break
        return related


async def dependency_graph(session: AsyncSession) -> DependencyGraph:
    """NO ACCESS FILTERING, like `related_services`: for the machine pipeline only."""
    return DependencyGraph(await _all_edges(session))


async def _all_edges(session: AsyncSession) -> dict[int, set[int]]:
    """Every edge, as service id -> the ids it depends on (one query)."""
    rows = await session.execute(
        select(ServiceDependency.service_id, ServiceDependency.depends_on_id)
    )
    edges: dict[int, set[int]] = {}
    for service_id, depends_on_id in rows:
        edges.setdefault(service_id, set()).add(depends_on_id)
    return edges


async def _codes(session: AsyncSession, caller: Caller, ids: Iterable[int]) -> dict[int, str]:
    """Codes to name services in a message; one the caller may not read is not named."""
    wanted = set(ids)
    visible = await services_by_id(session, caller, wanted)
    return {pk: visible[pk].code if pk in visible else HIDDEN for pk in wanted}


async def _audit(uc: UseCase, action: str, service: Service, target: Service) -> None:
    unit = (
        await uc.session.execute(
            select(BusinessUnit.code).where(BusinessUnit.id == service.business_unit_id)
        )
    ).scalar_one()
    await record(
        uc.session,
        uc.caller,
        action,
        resource_type="service",
        resource_id=service.id,
        unit=unit,
        payload={"service": service.code, "depends_on": target.code, "depends_on_id": target.id},
    )


def path_between(edges: Mapping[int, Iterable[int]], start: int, goal: int) -> list[int] | None:
    """A shortest path from `start` to `goal` along `edges` (node -> successors), both ends
    included, or None if there is none. Adding `goal -> start` closes a cycle exactly when
    there is one."""
    previous: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (before := previous[path[-1]]) is not None:
                path.append(before)
            return path[::-1]
        for successor in sorted(edges.get(node, ())):
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    return None


# ---------------------------------------------------------------------------- reads


async def dependencies_by_service(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, list[Service]]:
    """What each service depends on, for a loader: one query for any number of services, only
    services the caller may read, by code."""
    return await _neighbours(
        session, caller, ids, ServiceDependency.service_id, ServiceDependency.depends_on_id
    )


async def dependents_by_service(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, list[Service]]:
    """What depends on each service, for a loader: as `dependencies_by_service`, the other way."""
    return await _neighbours(
        session, caller, ids, ServiceDependency.depends_on_id, ServiceDependency.service_id
    )


async def _neighbours(
    session: AsyncSession, caller: Caller, ids: Iterable[int], key: Any, other: Any
) -> dict[int, list[Service]]:
    rows = await session.execute(
        select(key, Service)
        .join(Service, Service.id == other)
        .where(key.in_(set(ids)), SERVICES.visible(caller))
        .order_by(Service.code)
    )
    grouped: dict[int, list[Service]] = {}
    for pk, service in rows:
        grouped.setdefault(pk, []).append(service)
    return grouped


async def related_services(
    session: AsyncSession, service_id: int, *, max_hops: int = 3
) -> dict[int, int]:
    """The services connected to `service_id` by dependencies within `max_hops` edges, each
    mapped to its signed distance:

    - positive: upstream, what it depends on (1: a direct dependency, 2: a dependency of one,
      ...), where a failure of `service_id` may have its cause;
    - negative: downstream, what depends on it (-1: a direct dependent, -2: a dependent of one,
      ...), where its failure may cascade to.

    Each service appears once, at its shortest distance; `service_id` itself is not included.
    Paths only go one way: two services that merely share a dependency (or a dependent) are not
    related. `max_hops` 0 answers {}; a negative one is a ValueError. One query (the whole graph).

    NO ACCESS FILTERING: this is for the machine pipeline (alert correlation), which acts for
    no particular caller and must see the whole graph. Never hand its answer to a caller as it
    is; filter it by what they may read (`govsvc.org.service.services_by_id`) first.
    """
    return (await dependency_graph(session)).related(service_id, max_hops=max_hops)
