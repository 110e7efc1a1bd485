//! A small HDF5 layer over hdf5-pure: numeric arrays and scalar attributes, read with errors that
//! name the file and the object, written atomically (temporary file, then rename).
//!
//! Arrays are row-major as HDF5 stores them (h5py and NumPy see the same shapes).

mod links;

use hdf5_pure::{AttrValue, DType, Error as PureError, File, FileBuilder, FormatError};
use links::{GroupLinks, Link, LinkReader};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

/// A dense row-major array of f64 with its shape (empty shape: a scalar).
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Array {
    pub fn scalar(v: f64) -> Self {
        Array {
            shape: Vec::new(),
            data: vec![v],
        }
    }

    pub fn vector(data: Vec<f64>) -> Self {
        Array {
            shape: vec![data.len()],
            data,
        }
    }

    /// A `rows x cols` array from row-major data.
    pub fn matrix(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(rows * cols, data.len(), "matrix data length");
        Array {
            shape: vec![rows, cols],
            data,
        }
    }
}

/// A scalar attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    F64(f64),
    I64(i64),
    Str(String),
    /// A one-dimensional array of reals (e.g. the targets of `apcsim device`).
    F64s(Vec<f64>),
}

impl Attr {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Attr::F64(v) => Some(*v),
            Attr::I64(v) => Some(*v as f64),
            Attr::Str(_) | Attr::F64s(_) => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Attr::I64(v) => Some(*v),
            Attr::F64(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(*v as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attr::F64(v) => write!(f, "{v}"),
            Attr::I64(v) => write!(f, "{v}"),
            Attr::Str(s) => write!(f, "'{s}'"),
            Attr::F64s(v) => write!(f, "{v:?}"),
        }
    }
}

/// An HDF5 problem, naming the file and the object it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {object}: {message}", file.display())]
pub struct H5Error {
    pub file: PathBuf,
    /// A dataset path, `group@attribute`, or `(file)` for the file as a whole.
    pub object: String,
    pub message: String,
}

/// Values apcsim reads from one dataset at most: 2^27, 1 GiB as f64. The reference layout's
/// largest datasets are a batch and a weight matrix (the digits data set is 1797 x 64); a shape
/// declaring more is refused before anything is allocated, whatever the file holds.
pub const MAX_DATASET_VALUES: u64 = 1 << 27;

/// Soft links one path may pass through: the HDF5 library's own default (`H5L_NUM_LINKS`).
const MAX_SOFT_LINKS: usize = 16;

/// The 8 bytes an HDF5 file starts with (after its userblock, if any).
const HDF5_SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// An open HDF5 file, read-only.
pub struct H5Reader {
    path: PathBuf,
    file: File,
    /// The file's size in bytes, which bounds what its unfiltered datasets can hold.
    size: u64,
}

/// A path with its soft links followed.
struct Resolved {
    /// Hard links only, as hdf5-pure resolves them ("" for the root group).
    path: String,
    /// The object's header address, when every link on the way was read by [`links`].
    header: Option<u64>,
}

impl H5Reader {
    pub fn open(path: &Path) -> Result<Self, H5Error> {
        let err = |message: String| H5Error {
            file: path.to_path_buf(),
            object: "(file)".into(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
        if meta.is_dir() {
            return Err(err("is a folder, not an HDF5 file".into()));
        }
        let size = meta.len();
        check_signature(path, size).map_err(err)?;
        let file = File::open(path).map_err(|e| err(format!("cannot open as HDF5: {e}")))?;
        // A file cut short still has an intact superblock, whose end-of-file address (absolute:
        // it counts a userblock, as the HDF5 library writes it) then lies past the file's end.
        let eof = file.superblock().eof_address;
        if eof > size {
            return Err(err(format!(
                "truncated: the file is {size} bytes, its superblock says {eof}"
            )));
        }
        Ok(H5Reader {
            path: path.to_path_buf(),
            file,
            size,
        })
    }

    /// Reads a file held in memory (`path` is only used in messages).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, H5Error> {
        let path = PathBuf::from("(memory)");
        let size = bytes.len() as u64;
        let file = File::from_bytes(bytes).map_err(|e| H5Error {
            file: path.clone(),
            object: "(file)".into(),
            message: format!("cannot parse as HDF5: {e}"),
        })?;
        Ok(H5Reader { path, file, size })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, object: &str, message: impl Into<String>) -> H5Error {
        H5Error {
            file: self.path.clone(),
            object: object.to_string(),
            message: message.into(),
        }
    }

    fn links(&self) -> LinkReader<'_> {
        let sb = self.file.superblock();
        LinkReader {
            bytes: self.file.as_bytes(),
            base: sb.base_address.get(),
            offset_size: sb.offset_size,
            length_size: sb.length_size,
        }
    }

    /// The links of the group whose header is at `header`, if [`links`] can read them.
    fn known_links(&self, header: Option<u64>) -> Option<Vec<(String, Link)>> {
        match self.links().group_links(header?) {
            Ok(GroupLinks::Known(v)) => Some(v),
            _ => None,
        }
    }

    /// `path` with its soft links followed, so that hdf5-pure (which passes over soft links)
    /// finds the object. From a group whose links cannot be read here on, the path is left to
    /// hdf5-pure as named: its hard links still resolve, and a damaged file gets its error.
    fn resolve(&self, path: &str) -> Result<Resolved, H5Error> {
        // hdf5-pure gives the root's address absolute; every stored address is relative to the
        // base address (the userblock's size).
        let sb = self.file.superblock();
        let root = sb.root_group_address.checked_sub(sb.base_address.get());
        let mut pending: VecDeque<String> = components(path).collect();
        let mut done: Vec<String> = Vec::new();
        let mut header = root;
        let mut soft_links = 0;
        while let Some(name) = pending.pop_front() {
            let link = self
                .known_links(header)
                .and_then(|v| v.into_iter().find(|(n, _)| *n == name))
                .map(|(_, link)| link);
            match link {
                Some(Link::Hard(address)) => header = Some(address),
                Some(Link::Soft(target)) => {
                    soft_links += 1;
                    if soft_links > MAX_SOFT_LINKS {
                        return Err(self.err(
                            path,
                            format!("passes more than {MAX_SOFT_LINKS} soft links (a cycle?)"),
                        ));
                    }
                    if target.starts_with('/') {
                        done.clear();
                        header = root;
                    }
                    for c in components(&target).rev() {
                        pending.push_front(c);
                    }
                    continue;
                }
                Some(Link::External) => {
                    done.push(name);
                    let link = format!("/{}", done.join("/"));
                    let at = if components(path).eq(done.iter().cloned()) {
                        String::new()
                    } else {
                        format!(" at {link}")
                    };
                    return Err(self.err(
                        path,
                        format!(
                            "passes an external link{at} (to another file), which apcsim does \
                             not follow"
                        ),
                    ));
                }
                None => header = None,
            }
            done.push(name);
        }
        Ok(Resolved {
            path: done.join("/"),
            header,
        })
    }

    /// The group at a resolved path.
    fn group_at(&self, resolved: &str) -> Result<hdf5_pure::Group, PureError> {
        if resolved.is_empty() {
            Ok(self.file.root())
        } else {
            self.file.group(resolved)
        }
    }

    /// An object that is absent is `Ok(false)`; one that cannot be read is an error, so a
    /// damaged file is never mistaken for a well-formed one that lacks objects.
    fn exists<X>(&self, path: &str, r: Result<X, PureError>) -> Result<bool, H5Error> {
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(self.err(path, format!("cannot read (damaged file?): {e}"))),
        }
    }

    /// Whether a dataset exists at `path`.
    pub fn has_dataset(&self, path: &str) -> Result<bool, H5Error> {
        let resolved = self.resolve(path)?;
        self.exists(path, self.file.dataset(&resolved.path))
    }

    /// Whether a group exists at `path`.
    pub fn has_group(&self, path: &str) -> Result<bool, H5Error> {
        let resolved = self.resolve(path)?;
        self.exists(path, self.group_at(&resolved.path))
    }

    /// Names of the members of a group for which `keep(member path)` holds, sorted.
    fn members(
        &self,
        group: &str,
        keep: impl Fn(&str) -> Result<bool, H5Error>,
        listed: impl Fn(&hdf5_pure::Group) -> Result<Vec<String>, PureError>,
    ) -> Result<Vec<String>, H5Error> {
        let resolved = self.resolve(group)?;
        let mut v = match self.known_links(resolved.header) {
            Some(links) => {
                let mut names = Vec::new();
                for (name, link) in links {
                    let member = format!("{}/{name}", resolved.path);
                    if keep(&member)? {
                        names.push(name);
                    } else if let Link::Soft(target) = link {
                        self.check_not_dangling(&format!("{group}/{name}"), &member, &target)?;
                    }
                }
                names
            }
            None => self
                .group_at(&resolved.path)
                .and_then(|g| listed(&g))
                .map_err(|e| self.err(group, format!("cannot list (damaged file?): {e}")))?,
        };
        v.sort();
        Ok(v)
    }

    /// A soft link whose target does not exist is an error, not an absent member: a file that
    /// names an object it does not hold is damaged.
    fn check_not_dangling(&self, shown: &str, member: &str, target: &str) -> Result<(), H5Error> {
        if self.has_dataset(member)? || self.has_group(member)? {
            return Ok(());
        }
        Err(self.err(
            shown,
            format!("a soft link to {target}, which names no object in the file"),
        ))
    }

    /// Names of the datasets directly inside a group (sorted); empty if there is no such group.
    pub fn datasets_in(&self, group: &str) -> Result<Vec<String>, H5Error> {
        if !self.has_group(group)? {
            return Ok(Vec::new());
        }
        self.members(group, |p| self.has_dataset(p), |g| g.datasets())
    }

    /// Names of the groups directly inside a group (sorted).
    pub fn groups_in(&self, group: &str) -> Vec<String> {
        self.members(group, |p| self.has_group(p), |g| g.groups())
            .unwrap_or_default()
    }

    /// Refuses a dataset apcsim will not allocate: one declaring more than
    /// [`MAX_DATASET_VALUES`], or (unfiltered, so stored as declared) more bytes than the whole
    /// file holds. Checked from the shape alone, before any data is read.
    fn check_size(
        &self,
        path: &str,
        ds: &hdf5_pure::Dataset,
        shape: &[u64],
    ) -> Result<(), H5Error> {
        let values = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
        let Some(values) = values.filter(|&n| n <= MAX_DATASET_VALUES) else {
            return Err(self.err(
                path,
                format!(
                    "declares shape {shape:?}, over the {MAX_DATASET_VALUES} values (1 GiB as \
                     f64) apcsim reads from one dataset"
                ),
            ));
        };
        let element = ds
            .element_size()
            .map_err(|e| self.err(path, format!("unreadable datatype: {e}")))?;
        let bytes = values.saturating_mul(element);
        if ds.filters().is_empty() && bytes > self.size {
            return Err(self.err(
                path,
                format!(
                    "declares shape {shape:?}, {bytes} bytes of data, but the whole file is {} \
                     bytes (damaged file?)",
                    self.size
                ),
            ));
        }
        Ok(())
    }

    /// Reads a numeric dataset as f64.
    pub fn array(&self, path: &str) -> Result<Array, H5Error> {
        let resolved = self.resolve(path)?;
        let ds = self.file.dataset(&resolved.path).map_err(|e| {
            if is_absent(&e) {
                self.err(path, "missing dataset")
            } else {
                self.err(path, format!("cannot read (damaged file?): {e}"))
            }
        })?;
        let dtype = ds
            .dtype()
            .map_err(|e| self.err(path, format!("unreadable datatype: {e}")))?;
        let numeric = matches!(
            dtype,
            DType::F32
                | DType::F64
                | DType::I8
                | DType::I16
                | DType::I32
                | DType::I64
                | DType::U8
                | DType::U16
                | DType::U32
                | DType::U64
        );
        if !numeric {
            return Err(self.err(path, format!("expected a numeric dataset, found {dtype:?}")));
        }
        let shape = ds
            .shape()
            .map_err(|e| self.err(path, format!("unreadable shape: {e}")))?;
        self.check_size(path, &ds, &shape)?;
        // Each dimension is at most MAX_DATASET_VALUES now.
        let shape: Vec<usize> = shape.into_iter().map(|d| d as usize).collect();
        let data = ds
            .read_f64()
            .map_err(|e| self.err(path, format!("unreadable data: {e}")))?;
        let expect: usize = shape.iter().product();
        if data.len() != expect {
            return Err(self.err(
                path,
                format!("holds {} values for shape {shape:?}", data.len()),
            ));
        }
        Ok(Array { shape, data })
    }

    /// A scalar attribute of a group ("" or "/" for the root), `None` if absent.
    pub fn attr(&self, group: &str, name: &str) -> Result<Option<Attr>, H5Error> {
        let object = format!("{}@{name}", if group.is_empty() { "/" } else { group });
        let resolved = self.resolve(group)?;
        let g = match self.group_at(&resolved.path) {
            Ok(g) => g,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(self.err(&object, format!("cannot read (damaged file?): {e}"))),
        };
        let attrs = g
            .attrs()
            .map_err(|e| self.err(&object, format!("unreadable attributes: {e}")))?;
        let Some(v) = attrs.get(name) else {
            return Ok(None);
        };
        let a = match v {
            AttrValue::F64(x) => Attr::F64(*x),
            AttrValue::F64Array(v) => Attr::F64s(v.clone()),
            AttrValue::F32(x) => Attr::F64(*x as f64),
            AttrValue::I8(x) => Attr::I64(*x as i64),
            AttrValue::I16(x) => Attr::I64(*x as i64),
            AttrValue::I32(x) => Attr::I64(*x as i64),
            AttrValue::I64(x) => Attr::I64(*x),
            AttrValue::U8(x) => Attr::I64(*x as i64),
            AttrValue::U16(x) => Attr::I64(*x as i64),
            AttrValue::U32(x) => Attr::I64(*x as i64),
            AttrValue::U64(x) => match i64::try_from(*x) {
                Ok(v) => Attr::I64(v),
                Err(_) => return Err(self.err(&object, format!("value {x} is too large"))),
            },
            AttrValue::String(s) | AttrValue::AsciiString(s) | AttrValue::VarLenString(s) => {
                Attr::Str(s.clone())
            }
            AttrValue::StringSized { value, .. } | AttrValue::AsciiStringSized { value, .. } => {
                Attr::Str(value.clone())
            }
            AttrValue::StringArray(v)
            | AttrValue::AsciiStringArray(v)
            | AttrValue::VarLenStringArray(v)
            | AttrValue::VarLenAsciiCharArray(v)
                if v.len() == 1 =>
            {
                Attr::Str(v[0].clone())
            }
            other => {
                return Err(self.err(
                    &object,
                    format!("expected a scalar number or string, found {other:?}"),
                ))
            }
        };
        Ok(Some(a))
    }
}

/// Looks for the HDF5 signature where the format allows it (byte 0, 512, 1024, 2048, ...),
/// reading only those 8-byte windows, so that a large file that is not HDF5 is refused without
/// being read whole.
fn check_signature(path: &Path, size: u64) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    if size < HDF5_SIGNATURE.len() as u64 {
        return Err(format!(
            "not an HDF5 file: {size} bytes, too short for the HDF5 signature"
        ));
    }
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut offset = 0u64;
    while offset.checked_add(8).is_some_and(|end| end <= size) {
        let mut window = [0u8; 8];
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(&mut window))
            .map_err(|e| format!("cannot read: {e}"))?;
        if window == HDF5_SIGNATURE {
            return Ok(());
        }
        offset = match offset {
            0 => 512,
            o => match o.checked_mul(2) {
                Some(next) => next,
                None => break,
            },
        };
    }
    Err(format!(
        "not an HDF5 file: no HDF5 signature at byte 0, 512, 1024, ... (where the format puts \
         it) in its {size} bytes"
    ))
}

/// The names along a path (`a//b/./c` is `a`, `b`, `c`).
fn components(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

/// Whether an hdf5-pure error means "no such object" rather than "cannot read".
fn is_absent(e: &PureError) -> bool {
    matches!(e, PureError::Format(FormatError::PathNotFound(_)))
        || matches!(e, PureError::NotADataset(_) | PureError::NotAGroup(_))
}

#[derive(Default)]
struct Node {
    datasets: Vec<(String, Array)>,
    attrs: Vec<(String, Attr)>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn at(&mut self, group: &str) -> &mut Node {
        let mut node = self;
        for part in group.split('/').filter(|p| !p.is_empty()) {
            node = node.children.entry(part.to_string()).or_default();
        }
        node
    }
}

fn attr_value(a: &Attr) -> AttrValue {
    match a {
        Attr::F64(v) => AttrValue::F64(*v),
        Attr::I64(v) => AttrValue::I64(*v),
        // Variable-length, as h5py writes strings: h5py then reads them back as `str`.
        Attr::Str(s) => AttrValue::VarLenString(s.clone()),
        Attr::F64s(v) => AttrValue::F64Array(v.clone()),
    }
}

fn shape_u64(a: &Array) -> Vec<u64> {
    a.shape.iter().map(|&d| d as u64).collect()
}

fn build_group(gb: &mut hdf5_pure::GroupBuilder, node: &Node) {
    for (name, arr) in &node.datasets {
        gb.create_dataset(name)
            .with_f64_data(&arr.data)
            .with_shape(&shape_u64(arr));
    }
    for (name, a) in &node.attrs {
        gb.set_attr(name, attr_value(a));
    }
    for (name, child) in &node.children {
        let mut c = gb.create_group(name);
        build_group(&mut c, child);
        gb.add_group(c.finish());
    }
}

/// Collects datasets and attributes, then writes them in one go.
#[derive(Default)]
pub struct H5Writer {
    root: Node,
}

impl H5Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dataset at a path such as `grads/pc/W0`; groups are created as needed.
    pub fn dataset(&mut self, path: &str, array: Array) -> &mut Self {
        let (group, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        self.root.at(group).datasets.push((name.to_string(), array));
        self
    }

    /// A dataset added so far, by its path.
    pub fn array(&self, path: &str) -> Option<&Array> {
        let (group, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        let mut node = &self.root;
        for part in group.split('/').filter(|p| !p.is_empty()) {
            node = node.children.get(part)?;
        }
        node.datasets
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
    }

    /// Sets an attribute on a group ("" for the root); the group is created if needed.
    pub fn attr(&mut self, group: &str, name: &str, value: Attr) -> &mut Self {
        self.root.at(group).attrs.push((name.to_string(), value));
        self
    }

    /// Serialises the file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut fb = FileBuilder::new();
        for (name, arr) in &self.root.datasets {
            fb.create_dataset(name)
                .with_f64_data(&arr.data)
                .with_shape(&shape_u64(arr));
        }
        for (name, a) in &self.root.attrs {
            fb.set_attr(name, attr_value(a));
        }
        for (name, child) in &self.root.children {
            let mut g = fb.create_group(name);
            build_group(&mut g, child);
            fb.add_group(g.finish());
        }
        fb.finish().map_err(|e| e.to_string())
    }

    /// Writes to `path` atomically: a temporary file in the same folder, then a rename, so a
    /// failure never leaves a half-written file at `path`.
    pub fn write(&self, path: &Path) -> Result<(), H5Error> {
        let err = |m: String| H5Error {
            file: path.to_path_buf(),
            object: "(file)".into(),
            message: m,
        };
        let bytes = self
            .to_bytes()
            .map_err(|e| err(format!("cannot encode: {e}")))?;
        crate::io::write_atomic(path, &bytes).map_err(|e| err(format!("cannot write: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte of two h5py files with soft links (version-1 groups; the latest format with a
    /// userblock) inverted in turn: the reader, links included, answers or refuses, never
    /// panics.
    #[test]
    fn damaged_link_structures_never_panic_the_reader() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hdf5_variants");
        for name in ["soft_link.h5", "soft_links_latest.h5"] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let mut panics = Vec::new();
            for k in 0..bytes.len() {
                let mut b = bytes.clone();
                b[k] ^= 0xff;
                let read = std::panic::catch_unwind(move || {
                    let Ok(r) = H5Reader::from_bytes(b) else {
                        return;
                    };
                    let _ = r.datasets_in("weights");
                    let _ = r.array("weights/W1");
                    let _ = r.array("batch/x");
                    let _ = r.attr("euler", "steps");
                    let _ = r.groups_in("/");
                });
                if read.is_err() {
                    panics.push(k);
                }
            }
            assert!(panics.is_empty(), "{name}: panics at bytes {panics:?}");
        }
    }

    #[test]
    fn round_trip_arrays_scalars_and_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.h5");
        let mut w = H5Writer::new();
        w.dataset(
            "a/b/m",
            Array::matrix(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        )
        .dataset("s", Array::scalar(-0.5))
        .dataset("a/v", Array::vector(vec![1e-300, f64::MAX]))
        .attr("", "name", Attr::Str("tanh".into()))
        .attr("a", "n", Attr::I64(7))
        .attr("a/b", "x", Attr::F64(0.25));
        w.write(&path).unwrap();
        let r = H5Reader::open(&path).unwrap();
        assert_eq!(
            r.array("a/b/m").unwrap(),
            Array::matrix(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
        let s = r.array("s").unwrap();
        assert!(s.shape.is_empty());
        assert_eq!(s.data, vec![-0.5]);
        assert_eq!(r.array("a/v").unwrap().data, vec![1e-300, f64::MAX]);
        assert_eq!(r.attr("", "name").unwrap(), Some(Attr::Str("tanh".into())));
        assert_eq!(r.attr("a", "n").unwrap(), Some(Attr::I64(7)));
        assert_eq!(r.attr("a/b", "x").unwrap(), Some(Attr::F64(0.25)));
        assert_eq!(r.attr("a", "missing").unwrap(), None);
        assert!(r.array("nope").is_err());
        assert_eq!(r.datasets_in("a").unwrap(), vec!["v".to_string()]);
        assert_eq!(w.array("a/v").unwrap().data, vec![1e-300, f64::MAX]);
        assert!(w.array("a/nope").is_none() && w.array("x/y").is_none());
        assert!(!r.has_group("nope").unwrap());
        assert_eq!(r.groups_in("a"), vec!["b".to_string()]);
    }
}
