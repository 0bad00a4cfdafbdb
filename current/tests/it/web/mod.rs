//! The web server over a real engine and a real socket: pages, the JSON API, security.

mod auth;
mod ctl;
mod http;
mod long_running;
mod metrics;
mod pages;
