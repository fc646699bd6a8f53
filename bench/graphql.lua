-- wrk: POST the GraphQL operation in $GRAPHQL_BODY (bench/run.sh's GraphQL rows).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("GRAPHQL_BODY")
