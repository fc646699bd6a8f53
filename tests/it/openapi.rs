//! The generated OpenAPI document against the RealWorld spec 2.0.0 (a copy in
//! `tests/realworld/openapi.yml`): every path, method, parameter, response status
//! and schema property of the spec is there and compatible; and a snapshot of the whole
//! document catches unintended changes (`UPDATE_SNAPSHOTS=1` rewrites it).

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::spawn_app;

const SPEC: &str = include_str!("../realworld/openapi.yml");
const SNAPSHOT: &str = "tests/snapshots/openapi.json";

/// `value`, with a `$ref` (`#/components/…/Name`) followed within `doc`.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(path) => {
            let mut at = doc;
            for part in path.trim_start_matches("#/").split('/') {
                at = &at[part];
            }
            resolve(doc, at)
        }
        None => value,
    }
}

/// The JSON type names of a schema (`type: string` or `type: [string, "null"]`).
fn types(schema: &Value) -> Vec<String> {
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

/// Every property of the spec's `theirs` is in `ours`, of a compatible type, and required
/// where the spec requires it; nested objects and `$ref`s are compared the same way.
fn compatible(spec: &Value, doc: &Value, theirs: &Value, ours: &Value, at: &str) {
    let theirs = resolve(spec, theirs);
    let ours = resolve(doc, ours);
    let (t, o) = (types(theirs), types(ours));
    for kind in &t {
        assert!(
            o.contains(kind) || (kind == "integer" && o.contains(&"number".to_owned())),
            "{at}: the spec says {t:?}, ours {o:?}"
        );
    }
    if let Some(items) = theirs.get("items") {
        compatible(spec, doc, items, &ours["items"], &format!("{at}[]"));
    }
    let Some(props) = theirs.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = ours["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for name in theirs["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap();
        assert!(
            required.contains(&name),
            "{at}.{name}: required by the spec, not by ours"
        );
    }
    for (name, schema) in props {
        let mine = &ours["properties"][name];
        assert!(
            !mine.is_null(),
            "{at}.{name}: in the spec, missing from ours"
        );
        compatible(spec, doc, schema, mine, &format!("{at}.{name}"));
    }
}

#[tokio::test]
async fn the_document_covers_the_realworld_spec() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    let spec: Value = serde_norway::from_str(SPEC).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/api");

    let mut operations = 0;
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for (method, theirs) in methods.as_object().unwrap() {
            let at = format!("{method} {path}");
            let ours = &doc["paths"][path][method];
            assert!(ours.is_object(), "{at}: missing");
            operations += 1;
            assert_eq!(ours["operationId"], theirs["operationId"], "{at}");
            for param in theirs["parameters"].as_array().into_iter().flatten() {
                let param = resolve(&spec, param);
                let mine = ours["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == param["name"] && p["in"] == param["in"]);
                let mine = mine.unwrap_or_else(|| panic!("{at}: parameter {}", param["name"]));
                assert_eq!(
                    mine["required"].as_bool().unwrap_or(false),
                    param["required"].as_bool().unwrap_or(false),
                    "{at} {}",
                    param["name"]
                );
                compatible(
                    &spec,
                    &doc,
                    &param["schema"],
                    &mine["schema"],
                    &format!("{at} {}", param["name"]),
                );
            }
            for (status, response) in theirs["responses"].as_object().unwrap() {
                let mine = &ours["responses"][status];
                assert!(mine.is_object(), "{at}: no {status} response");
                let response = resolve(&spec, response);
                if let Some(schema) = response.pointer("/content/application~1json/schema") {
                    let my_schema = mine
                        .pointer("/content/application~1json/schema")
                        .unwrap_or_else(|| panic!("{at} {status}: no JSON body"));
                    compatible(&spec, &doc, schema, my_schema, &format!("{at} {status}"));
                }
            }
            if let Some(body) = theirs.get("requestBody") {
                let body = resolve(&spec, body);
                let schema = body.pointer("/content/application~1json/schema").unwrap();
                let mine = ours
                    .pointer("/requestBody/content/application~1json/schema")
                    .unwrap_or_else(|| panic!("{at}: no request body"));
                compatible(&spec, &doc, schema, mine, &format!("{at} body"));
            }
            if theirs.get("security").is_some() {
                assert!(ours.get("security").is_some(), "{at}: no security");
            }
        }
    }
    assert_eq!(operations, 19, "the spec's operations");
    for name in spec["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name}"
        );
        compatible(
            &spec,
            &doc,
            &spec["components"]["schemas"][name],
            &doc["components"]["schemas"][name],
            name,
        );
    }
    let scheme = &doc["components"]["securitySchemes"]["Token"];
    assert_eq!(
        (&scheme["type"], &scheme["in"], &scheme["name"]),
        (
            &Value::from("apiKey"),
            &Value::from("header"),
            &Value::from("Authorization")
        )
    );

    // The snapshot: any change to the document is seen in review.
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all("tests/snapshots").unwrap();
        std::fs::write(SNAPSHOT, &pretty).unwrap();
    }
    let kept = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        kept == pretty,
        "the OpenAPI document changed; if intended, run with UPDATE_SNAPSHOTS=1 and commit {SNAPSHOT}"
    );
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_vendored_copy() {
    let app = spawn_app().await;
    let res = app.get("/api/docs").await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/api/docs/");
    let res = app.get("/api/docs/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
    assert!(
        !html.contains("<script>"),
        "no inline script: the CSP would block it"
    );
    let init = app
        .get("/api/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/openapi.json"), "{init}");
    let bundle = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}
