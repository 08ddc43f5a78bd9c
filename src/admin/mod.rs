//! Admins review what users report: reports grouped by the reported user,
//! appeals, and the actions (suspend, unsuspend, dismiss a report, resolve an
//! appeal), each written to `admin_audit` in the same statement. The role is
//! granted on the server's command line (`voxmatch admin grant <username|phone>`).

pub mod cli;
pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;

pub use routes::routes;
