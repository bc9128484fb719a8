from cmdb.core.domains import DomainConfig


class GraphQLConfig(DomainConfig):
    name = "cmdb.graphql"
    label = "cmdb_graphql"  # not "graphql": that is the name of the library underneath
    verbose_name = "GraphQL API"
    web_urls = [("graphql/", ".urls")]
