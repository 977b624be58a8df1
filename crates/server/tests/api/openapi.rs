//! The OpenAPI document: served, OpenAPI 3.1, and in step with the router. Whether real answers
//! match it is schemathesis's part (`.ci/schemathesis`, docs/API.md §15).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;

/// Every operation of the document, as (method, path template).
fn operations(document: &Value) -> Vec<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut ops = Vec::new();
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.push((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_served_and_is_openapi_3_1() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let document: Value = resp.json().await.expect("the document is JSON");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["user_token"]["scheme"], "bearer");
    assert_eq!(schemes["device_key"]["scheme"], "bearer");
    // The same document the code builds.
    assert_eq!(
        document,
        serde_json::to_value(assetlog_server::http::openapi::document()).unwrap()
    );
    // Every refusal body is the one schema.
    let error = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"][0], "error");
    let ops = operations(&document);
    assert!(ops.len() >= 40, "{} operations", ops.len());
    for (method, path) in &ops {
        let op = &document["paths"][path][method];
        let answers = op["responses"].as_object().unwrap();
        assert!(
            answers.keys().any(|s| s.starts_with('2') || s == "101"),
            "{method} {path} documents no success"
        );
        if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
            assert!(answers.contains_key("500"), "{method} {path}: no 500");
        }
    }
}

/// Each documented operation reaches a handler: not the fallback's 404 or 405.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let document = serde_json::to_value(assetlog_server::http::openapi::document()).unwrap();
    for (method, path) in operations(&document) {
        let concrete = path.replace(['{', '}'], "");
        let method: Method = method.to_uppercase().parse().unwrap();
        let resp = app.send(method.clone(), &concrete, None, None).await;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !body.contains("no such endpoint"),
            "{method} {path}: {status} {body}"
        );
    }
}

/// The router's routes come from the documented `routes!` calls; only the original paths (the
/// legacy aliases, docs/API.md §1) may be added with a plain `.route(…)`, outside the document.
#[test]
fn only_legacy_aliases_are_routed_outside_the_document() {
    let http = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = vec![http.clone()];
    let mut plain = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (_, rest) in text
            .match_indices(".route(")
            .map(|(i, _)| text.split_at(i + 7))
        {
            let literal = rest.trim_start().trim_start_matches('"');
            let route: String = literal.chars().take_while(|&c| c != '"').collect();
            plain.push((path.display().to_string(), route));
        }
    }
    assert!(!plain.is_empty(), "the scan found the legacy aliases");
    for (file, route) in plain {
        assert!(
            route.starts_with("/api/") && !route.starts_with("/api/v1/"),
            "{file}: {route:?} is routed outside the OpenAPI document: register it with routes!()"
        );
    }
}
