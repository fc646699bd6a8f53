//! `/graphql` over HTTP: queries by GET (kept in the hot-page cache when anonymous, as the
//! API's reads are) and anything by POST (one request, or a batch as a JSON array).
//!
//! Before anything runs, each request is held to `graphql.*`: its text's size and nesting
//! (checked before parsing, so a query of 100,000 brackets never reaches the parser), its
//! aliases, its depth and complexity (async-graphql's validation, with each list counted at
//! the size asked for), the batch's size. Strings in variables follow the API's rule (a NUL
//! refused, other characters XML forbids dropped). Automatic persisted queries (Apollo's
//! `extensions.persistedQuery`) are kept in Redis by their SHA-256, shared by instances.
//! Answers are `application/json` with status 200, errors in `errors` with
//! `extensions.code` (`error::ApiError::to_graphql`); only what isn't GraphQL at all (a body
//! that is not JSON, a mutation by GET) gets a 4xx.

use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, http::header, web};
use async_graphql::{
    BatchResponse, ErrorExtensions, Request, ServerError, Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    },
};
use sha2::{Digest, Sha256};

use super::{Caller, Gql, Loaders, QuireSchema};
use crate::{
    api::auth::MaybeApiUser, config::GraphqlSettings, error::ApiError, search::Search,
    state::AppState,
};

/// How long an automatic persisted query is kept after its last registration.
const APQ_TTL_SECS: u64 = 7 * 24 * 3600;

/// Brackets nested deeper than this are refused before parsing (the depth limit refuses
/// far less anyway; this keeps the parser's recursion bounded).
const MAX_NESTING: usize = 64;

/// `GET /graphql?query=…&variables=…&operationName=…&extensions=…`: queries only.
pub async fn get(
    state: web::Data<AppState>,
    schema: web::Data<QuireSchema>,
    search: web::Data<Search>,
    req: HttpRequest,
) -> HttpResponse {
    let parsed = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("the address can't be read: {e}")))
        .and_then(|pairs| from_pairs(&pairs));
    let one = match parsed {
        Ok(one) => one,
        Err(e) => return refused(&e),
    };
    answer(&state, &schema, &search, &req, vec![one], false, false).await
}

/// `POST /graphql`: `{"query", "variables", "operationName", "extensions"}`, or an array of
/// them (at most `graphql.max_batch`).
pub async fn post(
    state: web::Data<AppState>,
    schema: web::Data<QuireSchema>,
    search: web::Data<Search>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let mut payload = payload.into_inner();
    let body = match crate::api::json_value(&req, &mut payload).await {
        Ok(body) => body,
        Err(e) => return refused(&e),
    };
    let max = state.settings.graphql.max_batch;
    let (requests, batch) = match body {
        serde_json::Value::Array(items) if items.len() > max => {
            return refused(&ApiError::invalid(
                "batch",
                format!("may hold at most {max} operations"),
            ));
        }
        serde_json::Value::Array(items) if items.is_empty() => {
            return refused(&ApiError::invalid("batch", "holds no operation"));
        }
        serde_json::Value::Array(items) => (items, true),
        one => (vec![one], false),
    };
    let mut wire = Vec::with_capacity(requests.len());
    for item in requests {
        match from_json(item) {
            Ok(one) => wire.push(one),
            Err(e) => return refused(&e),
        }
    }
    answer(&state, &schema, &search, &req, wire, true, batch).await
}

/// One operation as it came, before its persisted query is looked up.
struct Wire {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<serde_json::Value>,
}

/// The operation's fields as a JSON object (`POST`'s form).
fn from_json(value: serde_json::Value) -> Result<Wire, ApiError> {
    let serde_json::Value::Object(mut fields) = value else {
        return Err(ApiError::invalid(
            "body",
            "must be a JSON object (or an array of them)",
        ));
    };
    let text = |v: Option<serde_json::Value>, name: &str| -> Result<Option<String>, ApiError> {
        match v {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(name, "must be a string")),
        }
    };
    let object = |v: Option<serde_json::Value>, name: &str| match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v @ serde_json::Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(ApiError::invalid(name, "must be an object")),
    };
    Ok(Wire {
        query: text(fields.remove("query"), "query")?,
        operation_name: text(fields.remove("operationName"), "operationName")?,
        variables: object(fields.remove("variables"), "variables")?,
        extensions: object(fields.remove("extensions"), "extensions")?,
    })
}

/// The operation's fields from the address (`GET`'s form): `variables` and `extensions`
/// are JSON.
fn from_pairs(pairs: &[(String, String)]) -> Result<Wire, ApiError> {
    let mut object = serde_json::Map::new();
    for (name, value) in pairs {
        let value = match name.as_str() {
            "query" | "operationName" => serde_json::Value::String(value.clone()),
            "variables" | "extensions" => serde_json::from_str(value)
                .map_err(|e| ApiError::invalid(name, format!("is not valid JSON: {e}")))?,
            // Other parameters (a cache-buster, `utm_…`) are no business of GraphQL's.
            _ => continue,
        };
        object.insert(name.clone(), value);
    }
    from_json(serde_json::Value::Object(object))
}

/// Run `wire` (one operation, or a batch) and answer.
async fn answer(
    state: &AppState,
    schema: &QuireSchema,
    search: &web::Data<Search>,
    req: &HttpRequest,
    wire: Vec<Wire>,
    by_post: bool,
    batch: bool,
) -> HttpResponse {
    let caller = match MaybeApiUser::extract(req).await {
        Ok(caller) => Caller(caller.0.map(|c| c.user)),
        Err(e) => return refused(&e),
    };
    let settings = &state.settings.graphql;
    let mut responses = Vec::with_capacity(wire.len());
    let mut wrote = false;
    for one in wire {
        let mut request = match prepare(state, settings, one).await {
            Ok(request) => request,
            Err(errors) => {
                responses.push(async_graphql::Response::from_errors(errors));
                continue;
            }
        };
        let operation = request.operation_name.clone();
        let kind = match request.parsed_query() {
            Ok(doc) => match check(settings, doc, operation.as_deref()) {
                Ok(kind) => kind,
                Err(e) => {
                    responses.push(async_graphql::Response::from_errors(vec![e]));
                    continue;
                }
            },
            // The executor reports it as GraphQL says.
            Err(_) => OperationType::Query,
        };
        if kind != OperationType::Query && !by_post {
            return HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, "POST"))
                .json(serde_json::json!({"errors": [{
                    "message": "a mutation is sent by POST, never by GET",
                    "extensions": {"code": "METHOD_NOT_ALLOWED"},
                }]}));
        }
        wrote |= kind == OperationType::Mutation;
        let request = request
            .data(Gql {
                state: state.clone(),
                search: search.clone().into_inner(),
                base: state.settings.http.base().to_owned(),
                client_ip: crate::extract::client_ip(req),
            })
            .data(Caller(caller.0.clone()))
            .data(Loaders::new(&state.db));
        responses.push(schema.execute(request).await);
    }
    if !wrote {
        // Reads only: kept pages stay as they are (`cache::hot_pages` bumps after a write).
        req.extensions_mut().insert(crate::cache::ReadOnly);
    }
    let failed = responses.iter().any(|r| !r.errors.is_empty());
    let body = match batch {
        true => BatchResponse::Batch(responses),
        false => match responses.pop() {
            Some(one) => BatchResponse::Single(one),
            None => BatchResponse::Batch(Vec::new()),
        },
    };
    let mut res = HttpResponse::Ok();
    if failed {
        // An answer with errors (a limit, a token, the database away) is never kept.
        res.insert_header((header::CACHE_CONTROL, "private, no-store"));
    }
    res.json(body)
}

/// A refusal before any GraphQL runs, in GraphQL's shape, with the API's status.
fn refused(e: &ApiError) -> HttpResponse {
    let status = actix_web::ResponseError::status_code(e);
    let error = e.to_graphql();
    let mut res = HttpResponse::build(status);
    if let ApiError::TooMany { retry_after } = e {
        res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
    }
    res.insert_header((header::CACHE_CONTROL, "private, no-store"));
    res.json(serde_json::json!({
        "errors": [{"message": error.message, "extensions": error.extensions}],
    }))
}

fn server_error(code: &str, message: impl Into<String>) -> ServerError {
    async_graphql::Error::new(message)
        .extend_with(|_, e| e.set("code", code))
        .into_server_error(async_graphql::Pos::default())
}

/// The operation as async-graphql takes it: its persisted query found (or registered), its
/// text's size and nesting checked, its variables read.
async fn prepare(
    state: &AppState,
    settings: &GraphqlSettings,
    wire: Wire,
) -> Result<Request, Vec<ServerError>> {
    let fail = |code: &str, message: String| vec![server_error(code, message)];
    let persisted = wire
        .extensions
        .as_ref()
        .and_then(|e| e.get("persistedQuery"))
        .map(|p| {
            let version = p.get("version").and_then(serde_json::Value::as_i64);
            let hash = p.get("sha256Hash").and_then(serde_json::Value::as_str);
            (version, hash.map(str::to_ascii_lowercase))
        });
    let query = match (persisted, wire.query) {
        (None, Some(query)) => query,
        (None, None) => {
            return Err(fail(
                "BAD_REQUEST",
                "a GraphQL request needs a `query`".into(),
            ));
        }
        (Some((version, hash)), query) => {
            let Some(hash) = hash.filter(|h| version == Some(1) && is_sha256(h)) else {
                return Err(fail(
                    "BAD_REQUEST",
                    "persistedQuery must be {\"version\": 1, \"sha256Hash\": <64 hex digits>}"
                        .into(),
                ));
            };
            persisted_query(state, settings, &hash, query).await?
        }
    };
    if query.len() > settings.max_query_bytes {
        return Err(fail(
            "QUERY_TOO_LARGE",
            format!("a query may be at most {} bytes", settings.max_query_bytes),
        ));
    }
    if nesting(&query) > MAX_NESTING {
        return Err(fail(
            "QUERY_TOO_DEEP",
            format!("a query may nest at most {MAX_NESTING} brackets"),
        ));
    }
    let mut request = Request::new(query);
    if let Some(name) = wire.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = wire.variables {
        request = request.variables(Variables::from_json(variables));
    }
    Ok(request)
}

fn is_sha256(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Apollo's automatic persisted queries: a hash alone is looked up (`PERSISTED_QUERY_NOT_FOUND`
/// asks the client to send the text once); a hash with its text is checked and kept.
async fn persisted_query(
    state: &AppState,
    settings: &GraphqlSettings,
    hash: &str,
    query: Option<String>,
) -> Result<String, Vec<ServerError>> {
    let key = format!("{}graphql:apq:{hash}", state.settings.redis.key_prefix);
    match query {
        Some(query) => {
            let digest = Sha256::digest(query.as_bytes());
            let actual: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            if actual != hash {
                return Err(vec![server_error(
                    "PERSISTED_QUERY_HASH_MISMATCH",
                    "provided sha256Hash does not match the query",
                )]);
            }
            if query.len() <= settings.max_query_bytes {
                // Kept for the next time; without Redis, the text is simply sent each time.
                let mut set = redis::cmd("SET");
                set.arg(&key).arg(&query).arg("EX").arg(APQ_TTL_SECS);
                state.redis.defer(set);
            }
            Ok(query)
        }
        None => {
            let found: Option<String> = state
                .redis
                .cmd(redis::cmd("GET").arg(&key))
                .await
                .ok()
                .flatten();
            found.ok_or_else(|| {
                vec![server_error(
                    "PERSISTED_QUERY_NOT_FOUND",
                    "PersistedQueryNotFound",
                )]
            })
        }
    }
}

/// How deep brackets nest in `query`, outside strings and comments.
fn nesting(query: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' | '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    deepest
}

/// The checks async-graphql doesn't make: aliases. The operation's kind, for GET's rule.
fn check(
    settings: &GraphqlSettings,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<OperationType, ServerError> {
    let mut aliases = 0;
    let mut kind = OperationType::Query;
    let operations: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![(None, op)],
        DocumentOperations::Multiple(ops) => ops.iter().map(|(n, op)| (Some(n), op)).collect(),
    };
    for (name, op) in &operations {
        let chosen = match (name, operation_name) {
            (Some(name), Some(wanted)) => name.as_str() == wanted,
            _ => operations.len() == 1,
        };
        if chosen {
            kind = op.node.ty;
        }
        aliases += count_aliases(&op.node.selection_set.node);
    }
    for fragment in doc.fragments.values() {
        aliases += count_aliases(&fragment.node.selection_set.node);
    }
    if aliases > settings.max_aliases {
        return Err(server_error(
            "TOO_MANY_ALIASES",
            format!(
                "a query may rename at most {} fields (aliases); this one renames {aliases}",
                settings.max_aliases
            ),
        ));
    }
    Ok(kind)
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => count_aliases(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting("{ a { b } }"), 2);
        // The argument's parenthesis closes before the selection opens.
        assert_eq!(nesting(r#"{ a(x: "{{{{\"{{") { b } }"#), 2);
        assert_eq!(nesting(r#"{ a(x: ["}}}"]) { b { c } } }"#), 3);
        assert_eq!(nesting("# {{{{{\n{ a }"), 1);
        assert_eq!(nesting(&"{".repeat(100_000)), 100_000);
        assert_eq!(nesting("}}}{"), 1);
    }

    #[test]
    fn persisted_query_hashes_are_64_hex_digits() {
        assert!(is_sha256(&"a".repeat(64)));
        assert!(!is_sha256(&"a".repeat(63)));
        assert!(!is_sha256(&"g".repeat(64)));
    }
}
