//! The OpenAPI 3 document, generated from the handlers' own annotations and
//! types (utoipa). Every endpoint added to a router is listed here too.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "voxmatch", description = "Random voice-call matching and Talk voice messaging."),
    paths(
        crate::auth::account::signup,
        crate::auth::account::login,
        crate::auth::account::logout,
        crate::auth::account::refresh,
        crate::auth::phone::register,
        crate::sms::request_code,
        crate::sms::resend_code,
        crate::sms::verify_code,
        crate::users::profile::get_profile,
        crate::users::profile::update_profile,
        crate::matching::handlers::get_settings,
        crate::matching::handlers::save_settings,
        crate::matching::handlers::random,
        crate::matching::handlers::decision,
        crate::matching::handlers::cancel,
        crate::gems::balance,
        crate::gems::charge,
        crate::calls::start,
        crate::calls::end,
        crate::calls::ice_servers,
        crate::history::recent,
        crate::history::rate,
        crate::broadcasts::list,
        crate::broadcasts::create,
        crate::broadcasts::detail,
        crate::broadcasts::voice,
        crate::broadcasts::reply,
        crate::conversations::list,
        crate::conversations::detail,
        crate::conversations::send_message,
        crate::conversations::favorite,
        crate::conversations::unfavorite,
        crate::conversations::delete,
        crate::conversations::message_voice,
        crate::moderation::block,
        crate::moderation::unblock,
        crate::moderation::report,
        crate::realtime::websocket,
        crate::realtime::events,
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::ops::openapi_json,
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

/// The document and the route patterns it lists.
pub fn document() -> (String, Vec<String>) {
    let doc = ApiDoc::openapi();
    let routes = doc.paths.paths.keys().cloned().collect();
    (
        doc.to_json().expect("the OpenAPI document serializes"),
        routes,
    )
}
