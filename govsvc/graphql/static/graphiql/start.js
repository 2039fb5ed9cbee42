// Starts GraphiQL against the endpoint that served this page (queries over POST, live
// subscriptions over the same URL's WebSocket). Paste {"Authorization": "Bearer <token>"}
// into the Headers tab; the token stays in this browser's local storage.
(function () {
  "use strict";
  var endpoint = window.location.href.split("?")[0].split("#")[0];
  var socket = new URL(endpoint);
  socket.protocol = socket.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: socket.toString() });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    })
  );
})();
