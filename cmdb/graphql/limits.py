"""Limits on the shape of a query, checked at validation before anything runs.

* **Depth**: data selections nest at most ``GRAPHQL_MAX_DEPTH`` (default 10) levels
  (``device_list { site { tenant { group { name } } } }`` is 5).
* **Size** ("complexity"): at most ``GRAPHQL_MAX_FIELDS`` (default 500) data fields once fragments
  are expanded, aliases included, so a short document that repeats fragments or aliases a field a
  thousand times is refused instead of being multiplied out.
* **Introspection**: at most ``GRAPHQL_MAX_INTROSPECTION_DEPTH`` (default 20) levels and three list
  fields (``types``, ``fields``, ``args``, ...) on any path, which GraphiQL's own introspection query
  needs, while ``types { fields { type { fields { type { fields ...`` (exponential output) is refused.

Before that, the parser reads at most ``GRAPHQL_MAX_TOKENS`` (default 5,000) tokens.  The rows a
query may materialize are limited at execution (``GRAPHQL_MAX_OBJECTS``, see
:mod:`cmdb.graphql.compiler`), and each list is capped at REST's ``MAX_PAGE_SIZE``.
"""

from __future__ import annotations

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

_INTROSPECTION_ROOTS = {"__schema", "__type"}
_INTROSPECTION_LISTS = {"types", "fields", "args", "inputFields", "interfaces", "possibleTypes", "enumValues",
                        "directives", "locations"}
_MAX_INTROSPECTION_LISTS = 3

Measure = tuple[int, int, int, int]  # data depth, introspection depth, data fields, introspection lists on a path


class _Measurer:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[tuple[str, bool], Measure] = {}
        self.active: set[tuple[str, bool]] = set()

    def measure(self, selection_set: SelectionSetNode, intro: bool) -> Measure:
        depth = idepth = count = lists = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
                inner = intro or name in _INTROSPECTION_ROOTS
                dd, di, c, li = self.measure(sel.selection_set, inner) if sel.selection_set else (0, 0, 0, 0)
                if inner:
                    idepth = max(idepth, max(dd, di) + 1)
                    lists = max(lists, li + (name in _INTROSPECTION_LISTS))
                    count += c
                else:
                    depth, idepth = max(depth, dd + 1), max(idepth, di)
                    lists = max(lists, li)
                    count += c + 1
                continue
            if isinstance(sel, InlineFragmentNode):
                found = self.measure(sel.selection_set, intro)
            elif isinstance(sel, FragmentSpreadNode):
                found = self._fragment(sel.name.value, intro)
            else:
                continue
            depth, idepth = max(depth, found[0]), max(idepth, found[1])
            count, lists = count + found[2], max(lists, found[3])
        return depth, idepth, count, lists

    def _fragment(self, name: str, intro: bool) -> Measure:
        key = (name, intro)
        if key in self.memo:
            return self.memo[key]
        fragment = self.fragments.get(name)
        if fragment is None or key in self.active:  # unknown or cyclic: other rules report it
            return 0, 0, 0, 0
        self.active.add(key)
        found = self.memo[key] = self.measure(fragment.selection_set, intro)
        self.active.discard(key)
        return found


def check_limits(document: DocumentNode) -> list[GraphQLError]:
    """The limits each operation of ``document`` breaks (empty: none).

    Run before graphql-core's validation, on the document alone: some standard rules (overlapping
    fields) cost time quadratic in the number of fields, which the size limit bounds.
    """
    max_depth = int(getattr(settings, "GRAPHQL_MAX_DEPTH", 10))
    max_fields = int(getattr(settings, "GRAPHQL_MAX_FIELDS", 500))
    max_idepth = int(getattr(settings, "GRAPHQL_MAX_INTROSPECTION_DEPTH", 20))
    measurer = _Measurer({d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)})
    errors = []
    for node in document.definitions:
        if not isinstance(node, OperationDefinitionNode):
            continue
        depth, idepth, count, lists = measurer.measure(node.selection_set, False)
        if depth > max_depth:
            errors.append(GraphQLError(f"The query is nested {depth} levels deep; at most {max_depth} are allowed.",
                                       node))
        if count > max_fields:
            errors.append(GraphQLError(f"The query selects {count} fields (fragments and aliases expanded); at most "
                                       f"{max_fields} are allowed.", node))
        if idepth > max_idepth or lists > _MAX_INTROSPECTION_LISTS:
            errors.append(GraphQLError(f"The introspection query is too deep (at most {max_idepth} levels and "
                                       f"{_MAX_INTROSPECTION_LISTS} nested lists).", node))
    return errors
