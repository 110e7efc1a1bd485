//! Moved to [`crate::design::build`]; this path stays while other code moves to it.

pub use crate::design::build::*;
