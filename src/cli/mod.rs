//! Subcommands beyond `compare`, one file each.

pub mod serve;
