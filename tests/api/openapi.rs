//! The OpenAPI document: it names every route (the API guide's and the router's), every route
//! it names is served, it is valid OpenAPI 3.1, and schemathesis, let loose on the live
//! server, finds no 5xx and no answer the document does not describe.

use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::common::python;
use crate::helpers::{Api, TOKEN, TestApp};
use crate::svix_sdk::python_check;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let anonymous = Api::new(&app.base, None);
    let (status, doc) = anonymous.call(Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "the document needs no token");
    doc
}

/// `(method, path)` of every route in docs/api.md's table (`...` standing for
/// `/api/v1/app/{app_id}`).
fn guide_routes() -> Vec<(String, String)> {
    let guide = include_str!("../../docs/api.md");
    let table = guide.split("## Routes").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut routes = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('`').nth(1).unwrap();
        let (methods, path) = first.split_once(' ').unwrap();
        let path = path.replacen("...", "/api/v1/app/{app_id}", 1);
        for method in methods.split('/') {
            routes.push((method.to_lowercase(), path.clone()));
        }
    }
    assert!(routes.len() > 40, "the route table was not read: {routes:?}");
    routes
}

#[tokio::test]
async fn the_document_names_every_route_and_every_route_it_names_is_served() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let codes = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"].to_string();
    for code in hookd::error::ErrorCode::ALL {
        assert!(codes.contains(code.as_str()), "{} missing from {codes}", code.as_str());
    }
    for (method, path) in guide_routes() {
        assert!(doc["paths"][&path][&method].is_object(), "{method} {path} is not in the document");
    }
    let msg = &doc["paths"]["/api/v1/app/{app_id}/msg"]["post"];
    assert!(msg["responses"]["422"].is_object() && msg["security"].is_array(), "{msg}");

    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace(['{', '}'], "");
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = (method != Method::GET && method != Method::DELETE).then(|| "{}".to_owned());
            let (status, _, answer) =
                app.client.raw(method.clone(), &concrete, body, &[]).await.unwrap();
            let answer = String::from_utf8_lossy(&answer);
            let unrouted =
                status == StatusCode::METHOD_NOT_ALLOWED || answer.contains("no such route");
            assert!(!unrouted, "{method} {path} is documented but not served: {status} {answer}");
            assert!(!status.is_server_error(), "{method} {path}: {status} {answer}");
        }
    }
}

/// Routes reach the router only through `routes!` (which documents them); this keeps a plain
/// `.route(…)` from slipping in undocumented.
#[test]
fn no_route_is_registered_around_the_document() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let plain: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(".route(") && !l.contains("\"/api/v1/openapi.json\""))
            .collect();
        assert!(plain.is_empty(), "{}: an undocumented route: {plain:?}", path.display());
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    if let Some(valid) = python_check("validate_openapi.py", doc).await {
        assert!(valid, "openapi-spec-validator refused the document");
    }
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let Some(python) = python() else { return };
    let schemathesis = std::path::Path::new(&python).with_file_name("schemathesis");
    let app = TestApp::spawn().await;
    let output = tokio::process::Command::new(schemathesis)
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", app.base))
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--max-examples", "5", "--max-time", "60", "--seed", "1"])
        // Every check of the answers; not yet whether every request the schema allows is
        // taken (the server refuses more than it describes) nor every one it forbids refused.
        .args(["--checks", "all", "--exclude-checks"])
        .arg("positive_data_acceptance,negative_data_rejection")
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tail: Vec<&str> = stdout.lines().rev().take(80).collect();
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{}\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
}
