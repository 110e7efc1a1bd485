//! Moved to [`crate::design::hardware`]; this path stays while other code moves to it.

pub use crate::design::hardware::*;
