from django.apps import AppConfig


class GraphQLConfig(AppConfig):
    name = "cmdb.graphql"
    label = "cmdb_graphql"  # not "graphql": that is the name of the library underneath
    verbose_name = "GraphQL API"
