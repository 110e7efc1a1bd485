//! How a design is loaded: the memory it may need and whether it may read files.

/// How a design is loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// The most memory a design may need, in bytes; `None`: the machine's physical memory.
    pub memory_limit_bytes: Option<f64>,
    /// Whether files the design names (preset files, HDF5 data) may be read. Off for fuzzing.
    pub read_files: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            memory_limit_bytes: None,
            read_files: true,
        }
    }
}
