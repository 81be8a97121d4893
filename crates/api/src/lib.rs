#![doc = include_str!("../README.md")]

pub mod client;
pub mod configuration;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
