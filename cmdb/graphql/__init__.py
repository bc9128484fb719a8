"""Read-only GraphQL API at ``/graphql/`` with NetBox 4.4's query shapes.

The schema is generated from the REST API: every model a REST viewset serves (and that
:mod:`cmdb.graphql.registry` exposes) becomes an object type with the fields its REST serializer
shows, a ``<name>`` and a ``<name>_list`` query field and a ``<Name>Filter`` input in NetBox's
filter syntax.  Queries are not resolved field by field: :mod:`cmdb.graphql.compiler` turns the
selection set into one ``values_list`` query per requested object type, so a page of 1,000
devices costs a constant number of queries whatever its size.  Every row and every nested
object passes :func:`cmdb.users.permissions.restrict` (or, for nested objects, the same rule the
REST API applies when it renders them), so GraphQL never shows what REST would hide.
"""
