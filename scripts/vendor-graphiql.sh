#!/usr/bin/env bash
# Vendors the GraphQL explorer (README, "GraphQL"; static/vendor/graphiql/README.md) from the
# npm registry into static/vendor/graphiql/: GraphiQL's browser build and the React 18 builds it
# runs on, with their licences. Run again with other versions to update, then look at the
# explorer in a browser (tests/e2e/graphiql.mjs) before committing.
#
# Two changes to what npm ships, both mechanical:
# - graphiql.min.js and .min.css are not minified upstream (3.5 MB of webpack output with
#   comments): esbuild minifies them (1.4 MB), keeping the licence comments of the script (the
#   stylesheet has none, only webpack's path banners).
# - graphiql.min.css embeds its fonts (Roboto, Fira Code) as data: URLs, which the site's
#   Content-Security-Policy refuses (font-src falls back to 'self'): the @font-face rules are
#   dropped, and the explorer's page names system fonts instead (static/css/graphiql.css).
set -euo pipefail
GRAPHIQL=3.8.3
REACT=18.3.1
ESBUILD=0.25.12

out="$(cd "$(dirname "$0")/.." && pwd)/static/vendor/graphiql"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null
for pkg in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir "$pkg" && tar -xzf "$pkg.tgz" -C "$pkg"
done
npm install --silent --no-audit --no-fund --prefix tools "esbuild@$ESBUILD" >/dev/null

mkdir -p "$out"
cp "react-$REACT/package/umd/react.production.min.js" "$out/react.production.min.js"
cp "react-dom-$REACT/package/umd/react-dom.production.min.js" "$out/react-dom.production.min.js"
cp "react-$REACT/package/LICENSE" "$out/react.LICENSE"
cp "react-dom-$REACT/package/LICENSE" "$out/react-dom.LICENSE"
cp "graphiql-$GRAPHIQL/package/LICENSE" "$out/graphiql.LICENSE"
tools/node_modules/.bin/esbuild "graphiql-$GRAPHIQL/package/graphiql.min.js" \
  --minify --legal-comments=inline --charset=utf8 --log-level=error \
  --outfile="$out/graphiql.min.js"
node -e '
  const fs = require("fs");
  const css = fs.readFileSync(process.argv[1], "utf8")
    .replace(/@font-face\s*\{[^}]*\}\s*/g, "")
    .replace(/\/\*# sourceMappingURL=[^*]*\*\/\s*$/, "");
  if (/url\(\s*["\x27]?data:font/.test(css)) throw new Error("a font is still embedded");
  fs.writeFileSync(process.argv[2], css);
' "graphiql-$GRAPHIQL/package/graphiql.min.css" graphiql.css
tools/node_modules/.bin/esbuild graphiql.css --minify --legal-comments=none --log-level=error \
  --outfile="$out/graphiql.min.css"
ls -l "$out"
