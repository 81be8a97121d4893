//! The OpenAPI document and the interactive docs: generated from the code,
//! covering exactly the served routes, valid OpenAPI 3.1.

use std::collections::BTreeSet;

use blog_infra::testing::TestBackend;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    response.json()
}

#[actix_web::test]
async fn the_document_names_every_served_route_and_no_other() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let document = document(&app).await;
    let mut documented: Vec<(String, Vec<&'static str>)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, operations)| {
            let mut methods: Vec<&'static str> = ["GET", "POST", "PUT", "DELETE", "PATCH"]
                .into_iter()
                .filter(|method| operations.get(method.to_ascii_lowercase()).is_some())
                .collect();
            methods.sort_unstable();
            (path.clone(), methods)
        })
        .collect();
    documented.sort();
    assert_eq!(documented, blog_api::routes::route_table());
}

#[actix_web::test]
async fn the_document_is_valid_openapi_3_1_with_every_reference_resolved() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let document = document(&app).await;
    let spec = oas3::from_json(document.to_string()).unwrap();
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);

    let mut references = BTreeSet::new();
    collect_references(&document, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference.strip_prefix('#').unwrap();
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} resolves to nothing"
        );
    }
}

fn collect_references(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(members) => {
            if let Some(Value::String(reference)) = members.get("$ref") {
                into.insert(reference.clone());
            }
            members.values().for_each(|v| collect_references(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, into)),
        _ => {}
    }
}

#[actix_web::test]
async fn the_document_says_what_the_contract_says() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let document = document(&app).await;
    let operation = |path: &str, method: &str| document["paths"][path][method].clone();
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Protected operations name the scheme; public ones do not.
    for (path, method) in [
        ("/api/v1/posts", "post"),
        ("/api/v1/posts/{id}", "put"),
        ("/api/v1/posts/{id}", "delete"),
        ("/api/v1/users/me", "get"),
        ("/api/v1/logout", "post"),
    ] {
        assert_eq!(
            operation(path, method)["security"][0]["bearer"],
            serde_json::json!([]),
            "{method} {path}"
        );
        assert!(
            operation(path, method)["responses"]["401"]["headers"]["WWW-Authenticate"].is_object()
        );
    }
    assert!(operation("/api/v1/posts", "get")["security"].is_null());
    let list = &operation("/api/v1/posts", "get")["responses"]["200"];
    assert!(list["headers"]["X-Total-Count"].is_object() && list["headers"]["Link"].is_object());
    assert!(
        operation("/api/v1/login", "post")["responses"]["503"]["headers"]["Retry-After"]
            .is_object()
    );
    // Every error code of the contract is in the schema.
    let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
    for code in [
        "validation_failed",
        "token_revoked",
        "rate_limited",
        "conflict",
        "request_timeout",
    ] {
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == code),
            "{code}"
        );
    }
}

#[actix_web::test]
async fn the_interactive_docs_are_served_from_the_binary() {
    let app = spawn_app(TestBackend::Sqlite).await;
    // `/docs` redirects to `/docs/` (the client follows it).
    let page = app.get("/docs").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-security-policy"),
        Some(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        ),
        "the docs may load their own assets, from this origin only"
    );
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no asset from a CDN: {html}");
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status, 200);
    assert!(String::from_utf8_lossy(&initializer.body).contains("/api/v1/openapi.json"));
    let script = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(script.status, 200);
    assert!(
        script.body.len() > 100_000,
        "the bundle itself, not a link to it"
    );
}
