//! Users: the `users` table (`store`) and the profile endpoints (`profile`).

pub mod profile;
pub mod store;

pub use profile::routes;
