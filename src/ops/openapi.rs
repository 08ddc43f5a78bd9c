//! The OpenAPI 3 document, generated from the handlers' own annotations and
//! types (utoipa), then completed in one pass (`completion`). Every endpoint added to a router is listed here too; the API
//! test `every_route_is_documented_and_every_documented_route_is_served`
//! fails otherwise.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::completion::complete;

#[derive(OpenApi)]
#[openapi(
    info(title = "voxmatch", description = "Random voice-call matching and Talk voice messaging."),
    paths(
        crate::auth::handlers::signup,
        crate::auth::handlers::login,
        crate::auth::handlers::logout,
        crate::auth::handlers::refresh,
        crate::auth::handlers::register,
        crate::sms::handlers::request_code,
        crate::sms::handlers::resend_code,
        crate::sms::handlers::verify_code,
        crate::users::handlers::get_profile,
        crate::users::handlers::update_profile,
        crate::users::handlers::delete_account,
        crate::matching::handlers::get_settings,
        crate::matching::handlers::save_settings,
        crate::matching::handlers::random,
        crate::matching::handlers::decision,
        crate::matching::handlers::status,
        crate::matching::handlers::cancel,
        crate::gems::handlers::balance,
        crate::gems::handlers::charge,
        crate::calls::handlers::start,
        crate::calls::handlers::end,
        crate::calls::handlers::ice_servers,
        crate::history::handlers::recent,
        crate::history::handlers::rate,
        crate::broadcasts::handlers::list,
        crate::broadcasts::handlers::create,
        crate::broadcasts::handlers::detail,
        crate::broadcasts::handlers::voice,
        crate::broadcasts::handlers::reply,
        crate::conversations::handlers::list,
        crate::conversations::handlers::detail,
        crate::conversations::handlers::send_message,
        crate::conversations::handlers::favorite,
        crate::conversations::handlers::unfavorite,
        crate::conversations::handlers::delete,
        crate::conversations::handlers::message_voice,
        crate::moderation::handlers::block,
        crate::moderation::handlers::unblock,
        crate::moderation::handlers::report,
        crate::presence::handlers::presence,
        crate::push::handlers::register,
        crate::push::handlers::unregister,
        crate::moderation::appeals::file,
        crate::admin::handlers::reports,
        crate::admin::handlers::appeals,
        crate::admin::handlers::suspend,
        crate::admin::handlers::unsuspend,
        crate::admin::handlers::dismiss,
        crate::admin::handlers::resolve_appeal,
        crate::media::handlers::profile_image,
        crate::realtime::ws::websocket,
        crate::realtime::sse::events,
        crate::ops::handlers::healthz,
        crate::ops::handlers::readyz,
        crate::ops::handlers::metrics,
        crate::ops::handlers::openapi_json,
        crate::ops::handlers::docs_page,
        demo_page,
        demo_file,
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::error::ValidationErrorBody,
        crate::error::RateLimitedBody,
        crate::error::NotEnoughGemsBody,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The web client (`src/demo/`), documented here: its module is plain files.
#[utoipa::path(get, path = "/demo/", tag = "web", operation_id = "demo_page",
    description = "The web client: sign up or log in, match, call, history, voice broadcasts and \
                   messages. `/demo` redirects here. `?auto=1&username=..&password=..&age=..&gender=..\
                   &preferred_gender=all` runs it unattended (for tests).",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
#[allow(dead_code)]
fn demo_page() {}

#[utoipa::path(get, path = "/demo/{file}", tag = "web", operation_id = "demo_file",
    description = "The web client's files: `index.html`, `app.js`, `style.css`.",
    params(("file" = String, Path)),
    responses(
        (status = 200, description = "The file"),
        (status = 404, body = crate::error::ErrorBody, description = "No such file (`route_not_found`)")))]
#[allow(dead_code)]
fn demo_file() {}

/// The document and the route patterns it lists.
pub fn document() -> (String, Vec<String>) {
    let doc = complete(serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON"));
    let routes = doc["paths"]
        .as_object()
        .map(|paths| paths.keys().cloned().collect())
        .unwrap_or_default();
    (
        serde_json::to_string(&doc).expect("the OpenAPI document serializes"),
        routes,
    )
}
