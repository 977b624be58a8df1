//! Integration tests: each starts the real server (in-process on port 0, or as a real process
//! where restarts and crashes are the point) with a fresh data directory.

mod accounts;
mod alerts;
mod analytics;
mod backup;
mod bad_input;
mod broker;
#[path = "../support/certs.rs"]
mod certs;
mod demo;
mod device;
mod hardening;
mod heavy;
mod helpers;
mod hostile;
mod lifecycle;
mod live;
mod migrate_pg;
mod mqtt;
mod openapi;
mod replicas;
mod reports;
mod retention;
mod revocation;
mod rollups;
mod storage;
mod tenancy;
mod tls;
