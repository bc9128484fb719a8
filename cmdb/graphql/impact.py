"""Impact analysis over GraphQL: ``impact(ci:, mode:, limit:)`` and ``dependencies(ci:)``.

The answers come from the same service functions as ``/api/services/impact/`` and
``/api/services/stack/`` (:func:`cmdb.services.impact.impact_of`, :func:`dependencies_of`) with the
reader as ``user``, so they hide the same CIs.  Only the parts a query selects are computed: the
impact result renders names, paths and notify lists lazily, and a change manager asking for
``summary`` and ``services`` does not pay for every affected CI's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from .compiler import by_key
from .scalars import BigInt

MAX_CIS = 1000


def _f(type_: Any) -> GraphQLField:
    return GraphQLField(type_, resolve=by_key)


def _nn(type_: Any) -> Any:
    return GraphQLNonNull(type_)


def _list(type_: Any) -> Any:
    return _nn(GraphQLList(_nn(type_)))


_PATH = {"path": _f(_nn(GraphQLList(BigInt))), "path_names": _f(_list(GraphQLString)), "via": _f(_list(GraphQLString))}

ImpactMode = GraphQLEnumType("ImpactMode", {"DOWN": GraphQLEnumValue("down", description="the CIs fail"),
                                            "DEGRADED": GraphQLEnumValue("degraded", description="the CIs degrade")})
ImpactCI = GraphQLObjectType("ImpactCIType", {
    "ci_id": _f(_nn(BigInt)), "kind": _f(GraphQLString), "name": _f(_nn(GraphQLString))},
    description="A CI the question starts from.")
ImpactSummary = GraphQLObjectType("ImpactSummaryType", {
    name: _f(_nn(GraphQLInt)) for name in ("affected", "down", "degraded", "services", "hidden")})
ImpactAffected = GraphQLObjectType("ImpactAffectedType", {
    "ci_id": _f(_nn(BigInt)), "kind": _f(GraphQLString), "name": _f(_nn(GraphQLString)),
    "state": _f(_nn(GraphQLString)), "criticality": _f(GraphQLString), "tenant_id": _f(BigInt), **_PATH,
    # Why, where a rule beyond the graph decided the state (a VM on a failed host: restarted by HA, or down).
    "reason": _f(GraphQLString)},
    description="A CI that goes down or degrades, with the dependency path that explains why.")
ImpactService = GraphQLObjectType("ImpactServiceType", {
    "id": _f(_nn(BigInt)), "ci_id": _f(_nn(BigInt)), "name": _f(_nn(GraphQLString)), "slug": _f(_nn(GraphQLString)),
    "service_type": _f(GraphQLString), "criticality": _f(GraphQLString), "state": _f(_nn(GraphQLString)),
    "sla_availability": _f(GraphQLFloat), "support_hours": _f(GraphQLString),
    "downtime_budget_minutes_per_month": _f(GraphQLFloat), **_PATH})
ImpactTenant = GraphQLObjectType("ImpactTenantType", {
    "id": _f(_nn(BigInt)), "name": _f(_nn(GraphQLString)), "slug": _f(_nn(GraphQLString))})
ImpactContact = GraphQLObjectType("ImpactContactType", {
    "id": _f(_nn(BigInt)), "name": _f(_nn(GraphQLString)), "email": _f(GraphQLString), "phone": _f(GraphQLString),
    "tenant_id": _f(BigInt), "roles": _f(_list(GraphQLString))})
Impact = GraphQLObjectType("ImpactType", {
    "mode": _f(_nn(GraphQLString)), "summary": _f(_nn(ImpactSummary)), "failed": _f(_list(ImpactCI)),
    "affected": _f(_list(ImpactAffected)), "services": _f(_list(ImpactService)), "tenants": _f(_list(ImpactTenant)),
    "contacts": _f(_list(ImpactContact))},
    description="What fails or degrades when the given CIs fail, as /api/services/impact/ answers it.")
Dependency = GraphQLObjectType("DependencyType", {
    "ci_id": _f(_nn(BigInt)), "kind": _f(GraphQLString), "name": _f(_nn(GraphQLString)),
    "criticality": _f(GraphQLString), "tenant_id": _f(BigInt), "depth": _f(_nn(GraphQLInt)), **_PATH})
Dependencies = GraphQLObjectType("DependenciesType", {
    "roots": _f(_list(ImpactCI)), "dependencies": _f(_list(Dependency)), "hidden_count": _f(_nn(GraphQLInt))},
    description="Everything the given CIs depend on, as /api/services/stack/ answers it.")


def query_fields(resolve: Callable[..., Any]) -> dict[str, GraphQLField]:
    ci = GraphQLArgument(_list(GraphQLID), description="CI registry ids (at most 1,000)")
    return {
        "impact": GraphQLField(Impact, args={
            "ci": ci, "mode": GraphQLArgument(ImpactMode, default_value="down"),
            "limit": GraphQLArgument(GraphQLInt, default_value=0,
                                     description="at most this many affected CIs (0: all)")},
            resolve=resolve, extensions={"cmdb": ("impact", None)},
            description="The impact of a failure of these CIs (as /api/services/impact/)."),
        "dependencies": GraphQLField(Dependencies, args={"ci": ci}, resolve=resolve,
                                     extensions={"cmdb": ("dependencies", None)},
                                     description="What these CIs depend on (as /api/services/stack/)."),
    }


def _ci_ids(values: list[Any]) -> list[int]:
    """Registry ids from the ``ci`` argument, with REST's rules and messages (``parse_ci_ids``)."""
    raw = [str(v).strip() for v in values if str(v).strip()]
    if not raw:
        raise GraphQLError("ci: give at least one CI id.")
    bad = [r for r in raw if not (r.isascii() and r.isdigit() and len(r) < 19)]
    if bad:
        raise GraphQLError(f"ci: not a CI id: {', '.join(b[:40] for b in bad[:5])}.")
    if len(raw) > MAX_CIS:
        raise GraphQLError(f"ci: at most {MAX_CIS:,} CIs per question.")
    return [int(r) for r in raw]


class _LazyImpact:
    """An :class:`ImpactResult` read like a dict, computing only the keys a query selects."""

    def __init__(self, result: Any, limit: int | None) -> None:
        self.result, self.limit = result, limit

    def get(self, name: str) -> Any:
        result = self.result
        if name == "summary":
            return result.summary()
        if name == "affected":
            return result.page(self.limit)
        return getattr(result, name, None)


def run(req: Any, kind: str, field_def: Any, nodes: list[Any]) -> Any:
    from cmdb.services.impact import UnknownCI, dependencies_of, impact_of

    args = req.arguments(field_def, nodes[0])
    ci_ids = _ci_ids(args["ci"])
    type_name = "ImpactType" if kind == "impact" else "DependenciesType"
    plan = req.dict_plan(type_name, nodes)
    try:
        if kind == "dependencies":
            return plan.project(dependencies_of(ci_ids, user=req.user))
        limit = args.get("limit")
        if limit is not None and limit < 0:
            raise GraphQLError("limit: must not be negative.")
        return plan.project(_LazyImpact(impact_of(ci_ids, mode=args["mode"], user=req.user), limit or None))
    except UnknownCI as exc:
        raise GraphQLError(f"ci: {exc}") from exc
