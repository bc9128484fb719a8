/* Start GraphiQL on /graphql/: queries go to the same URL with the session cookie and Django's CSRF token
   (the page carries it: the CSRF cookie is HttpOnly). Loaded as a file, as the site's CSP allows no inline script. */
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({
    url: root.dataset.endpoint,
    headers: { "X-CSRFToken": root.dataset.csrfToken },
  });
  var defaultQuery = [
    "# NetBox-style queries, e.g.:",
    "{",
    "  device_list(filters: {status: STATUS_ACTIVE}, pagination: {limit: 10}) {",
    "    id",
    "    name",
    "    serial",
    "    site { name }",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultQuery: defaultQuery })
  );
})();
