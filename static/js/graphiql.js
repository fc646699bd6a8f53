// The GraphQL explorer (/graphql/explorer, templates/graphql/explorer.html): starts the
// vendored GraphiQL (static/vendor/graphiql) in <main>, on this site's endpoints. A file of its
// own because the Content-Security-Policy runs no inline script.
//
// Queries and mutations go to /graphql by POST; subscriptions to /ws/graphql
// (graphql-transport-ws, through the graphql-ws client GraphiQL's bundle carries). The API token
// pasted in the header's field rides along as `Authorization: Bearer …` on each request (a
// header set in GraphiQL's own Headers editor wins); it stays in this page, never stored.
(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var field = document.getElementById('explorer-token');
  if (!root || !window.GraphiQL || !window.React || !window.ReactDOM) return;

  var sockets = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  var fetcher = window.GraphiQL.createFetcher({
    url: root.dataset.endpoint,
    subscriptionUrl: sockets + root.dataset.subscriptions,
    // Our server answers plain JSON (no @defer or @stream).
    enableIncrementalDelivery: false,
  });

  // The token as pasted, with or without its scheme ("Bearer …", "Token …").
  function token() {
    return field ? field.value.trim().replace(/^(bearer|token)\s+/i, '') : '';
  }

  function withToken(params, options) {
    var headers = {};
    var pasted = token();
    if (pasted) headers.Authorization = 'Bearer ' + pasted;
    var own = (options && options.headers) || {};
    Object.keys(own).forEach(function (name) { headers[name] = own[name]; });
    return fetcher(params, Object.assign({}, options, { headers: headers }));
  }

  // Short lines: a phone shows about 25 characters of the editor.
  var start = [
    '# Ctrl-Enter or \u25B6 runs.',
    '# Docs: the book icon.',
    '# Writes need a token.',
    '{',
    '  site { title }',
    '  posts(first: 3) {',
    '    totalCount',
    '    edges {',
    '      node {',
    '        title',
    '        slug',
    '      }',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');

  window.ReactDOM.createRoot(root).render(
    window.React.createElement(window.GraphiQL, {
      fetcher: withToken,
      defaultQuery: start,
      // Headers typed in the editor are not written to the browser's storage.
      shouldPersistHeaders: false,
    })
  );
})();
