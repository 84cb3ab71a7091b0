//! The command line's arguments, beside `main.rs`'s commands.

pub mod choices;
pub mod train_args;
