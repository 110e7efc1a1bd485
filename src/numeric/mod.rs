//! The numeric layer every other module builds on. It imports nothing from the rest of the
//! crate.

pub mod format;
