"""Schemathesis's check for Quire's GraphQL contract (tests/it/schemathesis.rs).

Schemathesis's own `not_a_server_error` counts every resolver error as a failure; Quire
answers expected outcomes (not found, forbidden, a version conflict) as errors with an
`extensions.code`, as README "GraphQL" documents. What must never happen: a 5xx, an
`INTERNAL` error, or a resolver error without a code (an unmapped failure leaking).
"""

import schemathesis


@schemathesis.check
def quire_graphql_errors(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL":
            raise AssertionError(f"an internal error: {error.get('message')}")
        if error.get("path") and not code:
            raise AssertionError(f"a resolver error without a code: {error.get('message')}")
