//! The commands the UI invokes, by area. Each reads its input, calls one provisioning
//! function, and maps the result; anything longer belongs in the provisioning crate.

pub mod clipboard;
pub mod directory;
pub mod mapping;
pub mod provisioning;
pub mod settings;
pub mod startup;
pub mod synclog;
pub mod testsync;
pub mod tokens;
