//! Gems: balances and the ledger (`ledger`), purchases (`payments`), and
//! their endpoints.

pub mod handlers;
pub mod ledger;
pub mod model;
pub mod payments;
pub mod routes;

pub use routes::routes;
