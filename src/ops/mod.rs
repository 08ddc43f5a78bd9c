//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

pub mod completion;
pub mod handlers;
pub mod metrics;
pub mod openapi;
pub mod routes;

pub use routes::routes;
