//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`), made from the routes themselves:
//! every route is registered through `utoipa_axum::routes!` from a handler carrying its
//! `#[utoipa::path]`, so a route and its description cannot part. What every operation shares
//! is added here once: the bearer token, the error answers (from the one table of error codes
//! in `error.rs`), and the operational-webhook paths, which are the endpoint routes of the
//! reserved application under another prefix.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, Info, ObjectBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder, Schema,
    Type,
};

use crate::error::ErrorCode;

/// `{app_id}`: an application's id or uid.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the derive only
pub struct AppPath {
    /// The application's id (`app_…`) or its uid.
    app_id: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct EndpointPath {
    /// The application's id (`app_…`) or its uid.
    app_id: String,
    /// The endpoint's id (`ep_…`) or its uid.
    endpoint_id: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct MessagePath {
    /// The application's id (`app_…`) or its uid.
    app_id: String,
    /// The message's id (`msg_…`) or its `eventId`.
    msg_id: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct MessageEndpointPath {
    /// The application's id (`app_…`) or its uid.
    app_id: String,
    /// The message's id (`msg_…`) or its `eventId`.
    msg_id: String,
    /// The endpoint's id (`ep_…`) or its uid.
    endpoint_id: String,
}

/// Paging of every list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Items per page, 1 to 250 (default 50).
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// The `iterator` of the page before (next page) or the `prevIterator` of the page after.
    iterator: Option<String>,
}

/// A window of time (RFC 3339).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TimeWindow {
    /// From this time (default: a day before `until`).
    since: Option<String>,
    /// Until this time (default: now).
    until: Option<String>,
}

const BEARER: &str = "bearer";
const ERROR: &str = "ErrorBody";
const VALIDATION_ERROR: &str = "ValidationError";

/// hookd's error answer, for `body =` in a route's description.
pub struct ErrorBody;

impl utoipa::PartialSchema for ErrorBody {
    fn schema() -> RefOr<Schema> {
        error_schema()
    }
}

impl utoipa::ToSchema for ErrorBody {
    fn name() -> std::borrow::Cow<'static, str> {
        ERROR.into()
    }
}

/// Completes the document the router collected.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info = Info::new("hookd", env!("CARGO_PKG_VERSION"));
    doc.info.description = Some(format!(
        "Webhook delivery with Svix's API paths and shapes. Error codes:\n\n{}",
        error_table()
    ));
    add_operational_paths(&mut doc);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components.schemas.insert(ERROR.into(), error_schema());
    components.schemas.insert(VALIDATION_ERROR.into(), validation_schema());
    add_document_path(&mut doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = ["/api/v1/health", "/api/v1/openapi.json"].contains(&path.as_str());
        for op in operations(item) {
            qualify_operation_id(op);
            add_errors(op, open);
            if !open {
                op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            }
        }
    }
    doc
}

/// Handlers in different files share names (`list`, `read`): the id is qualified by the
/// operation's tag, as Svix's are (`application.list`).
fn qualify_operation_id(op: &mut Operation) {
    let tag = op.tags.as_ref().and_then(|t| t.first()).map(|t| t.to_lowercase().replace(' ', "_"));
    if let (Some(tag), Some(id)) = (tag, &op.operation_id) {
        op.operation_id = Some(format!("{tag}.{id}"));
    }
}

/// `GET /api/v1/openapi.json` itself, which is served beside the routes it describes.
fn add_document_path(doc: &mut OpenApi) {
    let json =
        ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::Object))).build();
    let ok = ResponseBuilder::new().description("this document").content("application/json", json);
    let op = utoipa::openapi::path::OperationBuilder::new()
        .operation_id(Some("openapi"))
        .tag("Health")
        .summary(Some("The OpenAPI 3.1 document of this API"))
        .response("200", ok.build())
        .build();
    let item = PathItem::new(utoipa::openapi::HttpMethod::Get, op);
    doc.paths.paths.insert("/api/v1/openapi.json".into(), item);
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
        .into_iter()
        .flatten()
}

/// Every status hookd's errors can have, with the body it comes with. The health check and
/// the document itself need no token, so they answer none of the token's errors.
fn add_errors(op: &mut Operation, open: bool) {
    let mut seen = Vec::new();
    for code in ErrorCode::ALL {
        let status = code.status().as_u16();
        let tokenless = matches!(code, ErrorCode::Unauthorized | ErrorCode::Forbidden);
        if seen.contains(&status) || (open && tokenless) || code == ErrorCode::Unavailable {
            continue;
        }
        seen.push(status);
        let of_status: Vec<&str> = ErrorCode::ALL
            .iter()
            .filter(|c| c.status().as_u16() == status)
            .map(|c| c.as_str())
            .collect();
        let schema = if code == ErrorCode::Validation { VALIDATION_ERROR } else { ERROR };
        let response = error_response(&format!("error: {}", of_status.join(", ")), schema);
        op.responses.responses.entry(status.to_string()).or_insert(response);
    }
}

fn error_response(description: &str, schema: &str) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build(),
    )
}

/// `{"code": …, "detail": "…"}`, `code` one of the table's.
fn error_schema() -> RefOr<Schema> {
    let codes = ErrorCode::ALL.iter().map(|c| c.as_str());
    error_object(codes, ObjectBuilder::new().schema_type(Type::String))
}

/// A 422: `detail` lists `{loc, msg, type}` per field, the shape Svix's libraries read.
fn validation_schema() -> RefOr<Schema> {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let field = ObjectBuilder::new()
        .property("loc", utoipa::openapi::ArrayBuilder::new().items(string()))
        .property("msg", string())
        .property("type", string())
        .required("loc")
        .required("msg")
        .required("type");
    error_object(["validation"], utoipa::openapi::ArrayBuilder::new().items(field))
}

/// An error body: `code` one of `codes`, and `detail`.
fn error_object<I: Into<serde_json::Value>>(
    codes: impl IntoIterator<Item = I>,
    detail: impl Into<RefOr<Schema>>,
) -> RefOr<Schema> {
    let code = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes));
    let error = ObjectBuilder::new()
        .property("code", code)
        .property("detail", detail)
        .required("code")
        .required("detail");
    RefOr::T(Schema::Object(error.build()))
}

fn error_table() -> String {
    let rows: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| format!("- `{}`: {}", c.as_str(), c.status().as_u16()))
        .collect();
    rows.join("\n")
}

/// `/api/v1/operational-webhook/endpoint…`: the reserved application's endpoint routes that
/// `api::operational_paths` maps them onto, without the `{app_id}` parameter.
fn add_operational_paths(doc: &mut OpenApi) {
    let suffixes = [
        "",
        "/{endpoint_id}",
        "/{endpoint_id}/secret",
        "/{endpoint_id}/secret/rotate",
        "/{endpoint_id}/headers",
    ];
    for suffix in suffixes {
        let from = format!("/api/v1/app/{{app_id}}/endpoint{suffix}");
        let Some(mut item) = doc.paths.paths.get(&from).cloned() else { continue };
        for op in operations(&mut item) {
            if let Some(params) = &mut op.parameters {
                params.retain(|p| p.name != "app_id");
            }
            op.tags = Some(vec!["Operational webhook endpoint".into()]);
        }
        doc.paths.paths.insert(format!("/api/v1/operational-webhook/endpoint{suffix}"), item);
    }
}
