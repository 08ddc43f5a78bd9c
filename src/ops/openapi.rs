//! The OpenAPI 3 document, generated from the handlers' own annotations and
//! types (utoipa). Every endpoint added to a router is listed here too.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

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
        crate::media::handlers::profile_image,
        crate::realtime::ws::websocket,
        crate::realtime::sse::events,
        crate::ops::handlers::healthz,
        crate::ops::handlers::readyz,
        crate::ops::handlers::metrics,
        crate::ops::handlers::openapi_json,
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
