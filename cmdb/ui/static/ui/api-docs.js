/* Start Swagger UI (/api/docs/) or ReDoc (/api/redoc/) from the page's data- attributes.
 * A file rather than an inline script, so the pages run under the UI's Content-Security-Policy. */
"use strict";
(function () {
  var swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    var csrf = swagger.getAttribute("data-csrf-token");
    window.ui = window.SwaggerUIBundle({
      url: swagger.getAttribute("data-schema-url"),
      dom_id: "#swagger-ui",
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      deepLinking: true,
      // No badge: the default sends the whole schema to validator.swagger.io.
      validatorUrl: null,
      requestInterceptor: function (request) {
        // "Try it out" with the browser's session: Django wants the CSRF token on writes.
        if (request.method && request.method !== "GET" && csrf) {
          request.headers["X-CSRFToken"] = csrf;
        }
        return request;
      }
    });
  }
  var redoc = document.getElementById("redoc-container");
  if (redoc && window.Redoc) {
    // The nonce lets the styles ReDoc writes at run time pass the page's Content-Security-Policy.
    window.Redoc.init(redoc.getAttribute("data-schema-url"), {nonce: redoc.getAttribute("data-style-nonce")}, redoc);
  }
})();
