"""Running one GraphQL request: parse, validate (cached), coerce variables, run the root fields.

Data queries run on the compiled path (:mod:`cmdb.graphql.compiler`); an operation that asks for
introspection (``__schema``, ``__type``: GraphiQL's documentation pane) runs through graphql-core's
own executor, whose root resolvers call the same compiled path.  Every failure a client can cause
is a GraphQL error in the answer (with the field's path and an ``extensions.code``), never an
exception: malformed documents and unknown fields at validation, bad ids and filters, refused
permissions and oversized requests at execution.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    is_non_null_type,
    parse,
    specified_rules,
    validate,
)
from graphql.utilities import coerce_input_value, type_from_ast, value_from_ast

from .compiler import Request
from .filters import as_pk, to_q
from .limits import check_limits

logger = logging.getLogger(__name__)

#: Parsed and validated documents by query text (validation depends on the text alone); long texts are
#: parsed each time, so that the cache stays small whatever clients send.
_CACHE_SIZE = 256
_CACHE_MAX_TEXT = 5_000
_documents: OrderedDict[str, tuple[DocumentNode | None, list[GraphQLError]]] = OrderedDict()
_lock = Lock()

MAX_QUERY_LENGTH = 100_000


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def prepare(schema: GraphQLSchema, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
    """The parsed document, or the syntax/validation errors; cached by text."""
    with _lock:
        hit = _documents.get(query)
        if hit is not None:
            _documents.move_to_end(query)
            return hit
    if len(query) > MAX_QUERY_LENGTH:
        result: tuple[DocumentNode | None, list[GraphQLError]] = (
            None, [GraphQLError(f"The query is longer than {MAX_QUERY_LENGTH:,} characters.")])
    else:
        try:
            document = parse(query, max_tokens=_setting("GRAPHQL_MAX_TOKENS", 5_000))
            errors = check_limits(document) or validate(schema, document, specified_rules, max_errors=20)
            result = (None, errors) if errors else (document, [])
        except GraphQLError as exc:
            result = (None, [exc])
        except RecursionError:  # braces nested thousands deep: the parser recurses per level
            result = (None, [GraphQLError("The query is nested too deeply to be read.")])
    if len(query) <= _CACHE_MAX_TEXT:
        with _lock:
            _documents[query] = result
            while len(_documents) > _CACHE_SIZE:
                _documents.popitem(last=False)
    return result


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        found = next((o for o in operations if o.name and o.name.value == name), None)
        if found is None:
            raise GraphQLError(f"Unknown operation named {name!r}.")
        return found
    if len(operations) != 1:
        raise GraphQLError("Several operations in the document: name the one to run (operationName).")
    return operations[0]


def _variables(schema: GraphQLSchema, operation: OperationDefinitionNode, raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = type_from_ast(schema, definition.type)
        if name not in raw:
            if definition.default_value is not None:
                out[name] = value_from_ast(definition.default_value, type_)
            elif is_non_null_type(type_):
                raise GraphQLError(f"Variable ${name} is required.", definition)
            continue
        if raw[name] is None and is_non_null_type(type_):
            raise GraphQLError(f"Variable ${name} must not be null.", definition)
        problems: list[str] = []

        def on_error(path: list[Any], value: Any, error: GraphQLError, problems: list[str] = problems,
                     name: str = name) -> None:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            problems.append(f"Variable ${name}{where}: {error.message}")

        out[name] = coerce_input_value(raw[name], type_, on_error)  # type: ignore[arg-type]
        if problems:
            raise GraphQLError(" ".join(problems[:5]), definition)
    return out


@dataclass
class Answer:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    extensions: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.errors:
            out["errors"] = self.errors
        if self.data is not None or not self.errors:
            out["data"] = self.data
        if self.extensions:
            out["extensions"] = self.extensions
        return out


def _error(exc: GraphQLError, path: list[Any] | None = None, code: str = "BAD_REQUEST") -> dict[str, Any]:
    out = exc.formatted
    if path is not None:
        out["path"] = path
    out.setdefault("extensions", {})
    out["extensions"] = {"code": code, **(out["extensions"] or {})}
    return out


def run(schema: GraphQLSchema, query: Any, variables: Any, operation_name: Any, user: Any) -> Answer:
    """Answer one request (the view has checked authentication; all else is decided here)."""
    try:
        return _run(schema, query, variables, operation_name, user)
    except RecursionError:  # variables nested thousands deep (JSON allows it; GraphQL documents are limited)
        return Answer(None, [_error(GraphQLError("The variables are nested too deeply."))])


def _run(schema: GraphQLSchema, query: Any, variables: Any, operation_name: Any, user: Any) -> Answer:
    if not isinstance(query, str) or not query.strip():
        return Answer(None, [_error(GraphQLError("Send a query: {\"query\": \"{ site_list { name } }\"}."))])
    if variables is not None and not isinstance(variables, dict):
        return Answer(None, [_error(GraphQLError("variables must be a JSON object."))])
    if operation_name is not None and not isinstance(operation_name, str):
        return Answer(None, [_error(GraphQLError("operationName must be a string."))])
    document, errors = prepare(schema, query)
    if document is None:
        return Answer(None, [_error(e, code="GRAPHQL_VALIDATION_FAILED") for e in errors])
    try:
        operation = _operation(document, operation_name)
        if operation.operation != OperationType.QUERY:
            raise GraphQLError(f"This API is read-only: only queries are served, not a {operation.operation.value}.",
                               operation)
        coerced = _variables(schema, operation, variables or {})
    except GraphQLError as exc:
        return Answer(None, [_error(exc)])
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    req = Request(schema, fragments, coerced, user, _setting("GRAPHQL_MAX_OBJECTS", 10 * settings.MAX_PAGE_SIZE))
    root = req.collect_root(operation.selection_set)
    if any(nodes[0].name.value.startswith("__") and nodes[0].name.value != "__typename" for nodes in root.values()):
        return _run_introspection(schema, document, operation, variables or {}, req)
    data: dict[str, Any] = {}
    out_errors: list[dict[str, Any]] = []
    query_type = schema.query_type
    for key, nodes in root.items():
        name = nodes[0].name.value
        if name == "__typename":
            data[key] = "Query"
            continue
        budget = req.objects_left
        try:
            data[key] = run_root_field(req, query_type.fields[name], nodes)  # type: ignore[union-attr]
        except GraphQLError as exc:
            data[key] = None
            req.objects_left = budget  # what the failed field loaded is not sent
            if not exc.locations:
                exc = GraphQLError(exc.message, nodes, extensions=exc.extensions)
            out_errors.append(_error(exc, [key], (exc.extensions or {}).get("code", "BAD_REQUEST")))
    extensions = {"truncated": req.truncated} if req.truncated else None
    return Answer(data, out_errors, extensions)


def _run_introspection(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                       variables: dict[str, Any], req: Request) -> Answer:
    result = execute(schema, document, variable_values=variables, context_value=req,
                     operation_name=operation.name.value if operation.name else None)
    errors = [_error(e, code=(e.extensions or {}).get("code", "BAD_REQUEST")) for e in result.errors or ()]
    return Answer(result.data, errors)  # type: ignore[arg-type]


def run_root_field(req: Request, field_def: Any, nodes: list[FieldNode]) -> Any:
    """One root field's value (or a GraphQLError for it)."""
    kind, item = field_def.extensions["cmdb"]
    if kind in {"impact", "dependencies"}:
        from . import impact

        return impact.run(req, kind, field_def, nodes)
    from cmdb.users.permissions import has_action, restrict

    if not has_action(req.user, item.model, "view"):
        raise GraphQLError(f"You may not view {item.plural}.", extensions={"code": "FORBIDDEN"})
    args = req.arguments(field_def, nodes[0])
    queryset = restrict(item.queryset(), req.user, "view")
    plan = req.object_plan(item, nodes)
    if kind == "get":
        pk = as_pk(args["id"], "id")
        rows = _fetch(req, plan, queryset.filter(pk=pk).order_by(), None)
        if not rows:
            raise GraphQLError(f"No {item.model._meta.verbose_name} with id {pk}.", extensions={"code": "NOT_FOUND"})
        return plan.render(rows)[0]
    filters = args.get("filters")
    if filters:
        queryset = queryset.filter(to_q(item, filters, req.filters))
    offset, limit, capped = _page(args.get("pagination"))
    rows = _fetch(req, plan, _ordered(queryset)[offset: offset + limit + 1], limit)
    if plan.more and capped:
        path = [nodes[0].alias.value if nodes[0].alias else nodes[0].name.value]
        req.truncated.append({"path": path, "limit": limit,
                              "message": f"More than {limit} objects match: paginate to see the rest."})
    return plan.render(rows)


def _ordered(queryset: Any) -> Any:
    from .compiler import _order

    return _order(queryset)


def _page(pagination: dict[str, Any] | None) -> tuple[int, int, bool]:
    """(offset, limit, whether the server's page size set the limit) as REST's pagination decides it."""
    maximum = settings.MAX_PAGE_SIZE
    offset = (pagination or {}).get("offset") or 0
    limit = (pagination or {}).get("limit")
    if offset < 0:
        raise GraphQLError("pagination.offset: must not be negative.")
    if limit is None or limit < 0:
        return offset, maximum, True
    return offset, min(limit, maximum), limit > maximum


def _fetch(req: Request, plan: Any, queryset: Any, limit: int | None) -> list[tuple]:
    """The plan's rows with their children; a filter the database refuses (a bad regular
    expression) is an error for this field, inside a savepoint so the transaction survives."""
    if not req.filters.regex:
        return plan.fetch(queryset, limit)
    try:
        with transaction.atomic():
            return plan.fetch(queryset, limit)
    except DatabaseError as exc:
        logger.info("GraphQL filter refused by the database: %s", exc)
        raise GraphQLError("filters: the database refused the regular expression.") from exc
