//! The links of an HDF5 group, read from the file's bytes: what hdf5-pure (0.47) does not
//! expose. It passes over soft links when it resolves a path, and refuses to list a
//! version-1 group that holds one, so a file where `weights/W1` is a soft link (h5py:
//! `f["weights/W1"] = h5py.SoftLink("/somewhere/W1")`) would be unreadable. This module
//! lists a group's links — hard, soft or external — so that [`super::H5Reader`] can resolve soft
//! links itself and hand hdf5-pure a path of hard links only.
//!
//! It reads the two ways a group stores its links: a symbol table (version-1 B-tree, symbol
//! table nodes and a local heap: h5py's default) and link messages in the object header (the
//! latest format, and hdf5-pure's own files). A group with dense link storage (a fractal heap:
//! more than 8 links in a latest-format file) is not read here ([`GroupLinks::Unknown`]); its
//! hard links still resolve through hdf5-pure.
//!
//! Every read is bounds-checked and every walk is bounded, so a damaged file gives an error,
//! never a panic or a loop.
//!
//! # Reference
//! HDF5 File Format Specification, version 3.0: §III.A.1 (version-1 B-trees), §III.B (symbol
//! table nodes), §III.C (symbol table entries, cache type 2), §III.D (local heaps), §IV.A.1
//! (object headers, versions 1 and 2), §IV.A.2.g (Link message), §IV.A.2.c (Link Info message),
//! §IV.A.2.q (Object Header Continuation), §IV.A.2.r (Symbol Table message).

/// Where a link points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// An object header at this address (relative to the file's base address).
    Hard(u64),
    /// Another path in the same file, absolute or relative to the group.
    Soft(String),
    /// An object in another file (user-defined links are reported as external too).
    External,
}

/// A group's links, or that this module cannot read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum GroupLinks {
    Known(Vec<(String, Link)>),
    /// Dense link storage: left to hdf5-pure.
    Unknown,
}

/// Object header message types (format specification §IV.A.2).
const LINK_INFO: u16 = 0x0002;
const LINK: u16 = 0x0006;
const CONTINUATION: u16 = 0x0010;
const SYMBOL_TABLE: u16 = 0x0011;

/// Continuation blocks, B-tree nodes and symbol table nodes one group may take: far more than a
/// real file has, few enough that a damaged file with a cycle stops at once.
const MAX_BLOCKS: usize = 100_000;

/// The bytes of an HDF5 file and the widths and base address its superblock gives.
pub(super) struct LinkReader<'a> {
    pub bytes: &'a [u8],
    /// The base address every stored address is relative to (the userblock's size).
    pub base: u64,
    pub offset_size: u8,
    pub length_size: u8,
}

/// A cursor over a slice, every read checked.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| "a link structure runs past its end".to_string())?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }

    /// A little-endian unsigned integer of `n` bytes (at most 8).
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        if n > 8 {
            return Err(format!("an integer of {n} bytes"));
        }
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
}

impl<'a> LinkReader<'a> {
    /// `len` bytes at the stored (base-relative) address `addr`.
    fn at(&self, addr: u64, len: usize) -> Result<&'a [u8], String> {
        let start = self
            .base
            .checked_add(addr)
            .and_then(|a| usize::try_from(a).ok());
        let end = start.and_then(|s| s.checked_add(len));
        match (start, end) {
            (Some(s), Some(e)) if e <= self.bytes.len() => Ok(&self.bytes[s..e]),
            _ => Err(format!("address {addr} (+{len} bytes) is outside the file")),
        }
    }

    /// A cursor from the stored address `addr` to the end of the file.
    fn cursor(&self, addr: u64) -> Result<Cursor<'a>, String> {
        let start = self
            .base
            .checked_add(addr)
            .and_then(|a| usize::try_from(a).ok())
            .filter(|&s| s <= self.bytes.len())
            .ok_or_else(|| format!("address {addr} is outside the file"))?;
        Ok(Cursor {
            data: &self.bytes[start..],
            at: 0,
        })
    }

    fn offset(&self, c: &mut Cursor) -> Result<u64, String> {
        c.uint(usize::from(self.offset_size))
    }

    fn length(&self, c: &mut Cursor) -> Result<u64, String> {
        c.uint(usize::from(self.length_size))
    }

    /// The undefined address (all bits set at the file's offset width).
    fn undefined(&self) -> u64 {
        match self.offset_size {
            8.. => u64::MAX,
            n => (1u64 << (8 * u32::from(n))) - 1,
        }
    }

    /// The links of the group whose object header is at `header`.
    pub fn group_links(&self, header: u64) -> Result<GroupLinks, String> {
        let messages = self.header_messages(header)?;
        if let Some((_, data)) = messages.iter().find(|(t, _)| *t == SYMBOL_TABLE) {
            let mut c = Cursor { data, at: 0 };
            let btree = self.offset(&mut c)?;
            let heap = self.offset(&mut c)?;
            return self.symbol_table_links(btree, heap).map(GroupLinks::Known);
        }
        for (_, data) in messages.iter().filter(|(t, _)| *t == LINK_INFO) {
            if self.has_dense_storage(data)? {
                return Ok(GroupLinks::Unknown);
            }
        }
        let links = messages
            .iter()
            .filter(|(t, _)| *t == LINK)
            .map(|(_, data)| self.link_message(data))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GroupLinks::Known(links))
    }

    /// The messages (type, data) of the object header at `addr`, continuation blocks included.
    fn header_messages(&self, addr: u64) -> Result<Vec<(u16, &'a [u8])>, String> {
        let head = self.at(addr, 4)?;
        if head == b"OHDR" {
            self.header_v2(addr)
        } else if head[0] == 1 {
            self.header_v1(addr)
        } else {
            Err(format!(
                "object header at {addr}: unknown version {}",
                head[0]
            ))
        }
    }

    /// A version-1 object header: a 16-byte prefix, then 8-byte-aligned messages.
    fn header_v1(&self, addr: u64) -> Result<Vec<(u16, &'a [u8])>, String> {
        let mut c = self.cursor(addr)?;
        c.take(2)?; // version, reserved
        let count = c.uint(2)? as usize;
        c.take(4)?; // reference count
        let size = c.uint(4)?;
        let first = addr.checked_add(16).ok_or("an address past the end")?;
        let mut blocks = vec![(first, size)];
        let mut messages = Vec::new();
        let mut seen = 0;
        while let Some((start, len)) = blocks.pop() {
            if blocks.len() + messages.len() > MAX_BLOCKS {
                return Err(format!("object header at {addr}: too many blocks"));
            }
            let len = usize::try_from(len).map_err(|_| "a block too large".to_string())?;
            let mut c = Cursor {
                data: self.at(start, len)?,
                at: 0,
            };
            while c.at + 8 <= len && seen < count {
                seen += 1;
                let kind = c.uint(2)? as u16;
                let size = c.uint(2)? as usize;
                c.take(4)?; // flags, reserved
                let data = c.take(size)?;
                self.note_message(kind, data, &mut messages, &mut blocks)?;
            }
        }
        Ok(messages)
    }

    /// A version-2 object header: `OHDR`, flags, optional times and attribute limits, the size
    /// of the first chunk, then messages; each chunk ends in a checksum.
    fn header_v2(&self, addr: u64) -> Result<Vec<(u16, &'a [u8])>, String> {
        let mut c = self.cursor(addr)?;
        c.take(5)?; // signature, version
        let flags = c.u8()?;
        if flags & 0x20 != 0 {
            c.take(16)?; // access, modification, change and birth times
        }
        if flags & 0x10 != 0 {
            c.take(4)?; // attribute storage limits
        }
        let size = c.uint(1 << (flags & 0x03))?;
        let start = addr
            .checked_add(c.at as u64)
            .ok_or("an address past the end")?;
        let mut blocks = vec![(start, size)];
        let mut messages = Vec::new();
        let mut first = true;
        while let Some((start, len)) = blocks.pop() {
            if blocks.len() + messages.len() > MAX_BLOCKS {
                return Err(format!("object header at {addr}: too many blocks"));
            }
            let len = usize::try_from(len).map_err(|_| "a block too large".to_string())?;
            let block = self.at(start, len)?;
            // The first chunk's size counts its messages only (its prefix was read above, its
            // checksum follows); a continuation block is `OCHK`, messages, checksum.
            let (skip, end) = if first {
                (0, Some(len))
            } else {
                (4, len.checked_sub(4))
            };
            first = false;
            let end = end
                .filter(|&e| e >= skip)
                .ok_or("a header chunk too short")?;
            let mut c = Cursor {
                data: &block[..end],
                at: skip,
            };
            let header_len = if flags & 0x04 != 0 { 6 } else { 4 };
            while c.at + header_len <= end {
                let kind = u16::from(c.u8()?);
                let size = c.uint(2)? as usize;
                c.take(header_len - 3)?; // message flags, creation order
                let data = c.take(size)?;
                self.note_message(kind, data, &mut messages, &mut blocks)?;
            }
        }
        Ok(messages)
    }

    /// Keeps a message, or queues the block a continuation message points to.
    fn note_message(
        &self,
        kind: u16,
        data: &'a [u8],
        messages: &mut Vec<(u16, &'a [u8])>,
        blocks: &mut Vec<(u64, u64)>,
    ) -> Result<(), String> {
        if kind == CONTINUATION {
            let mut c = Cursor { data, at: 0 };
            let start = self.offset(&mut c)?;
            let len = self.length(&mut c)?;
            blocks.push((start, len));
        } else {
            messages.push((kind, data));
        }
        Ok(())
    }

    /// Whether a Link Info message names a fractal heap (dense link storage).
    fn has_dense_storage(&self, data: &[u8]) -> Result<bool, String> {
        let mut c = Cursor { data, at: 0 };
        c.u8()?; // version
        let flags = c.u8()?;
        if flags & 0x01 != 0 {
            c.take(8)?; // maximum creation index
        }
        Ok(self.offset(&mut c)? != self.undefined())
    }

    /// A Link message: its name and target.
    fn link_message(&self, data: &[u8]) -> Result<(String, Link), String> {
        let mut c = Cursor { data, at: 0 };
        let version = c.u8()?;
        if version != 1 {
            return Err(format!("link message version {version}"));
        }
        let flags = c.u8()?;
        let kind = if flags & 0x08 != 0 { c.u8()? } else { 0 };
        if flags & 0x04 != 0 {
            c.take(8)?; // creation order
        }
        if flags & 0x10 != 0 {
            c.u8()?; // character set
        }
        let name_len = c.uint(1 << (flags & 0x03))?;
        let name_len = usize::try_from(name_len).map_err(|_| "a link name too long")?;
        let name = String::from_utf8_lossy(c.take(name_len)?).into_owned();
        let link = match kind {
            0 => Link::Hard(self.offset(&mut c)?),
            1 => {
                let n = c.uint(2)? as usize;
                Link::Soft(String::from_utf8_lossy(c.take(n)?).into_owned())
            }
            _ => Link::External,
        };
        Ok((name, link))
    }

    /// The entries of a version-1 group: the B-tree's leaves are symbol table nodes, whose
    /// entries name their links by offsets into the local heap.
    fn symbol_table_links(&self, btree: u64, heap: u64) -> Result<Vec<(String, Link)>, String> {
        let heap = self.local_heap(heap)?;
        let mut links = Vec::new();
        let mut visited = 0usize;
        let mut nodes = vec![btree];
        while let Some(node) = nodes.pop() {
            visited += 1;
            if visited > MAX_BLOCKS {
                return Err("a group's B-tree has too many nodes (a cycle?)".into());
            }
            let (level, children) = self.btree_node(node)?;
            if level > 0 {
                nodes.extend(children);
            } else {
                for snod in children {
                    self.symbol_table_node(snod, heap, &mut links)?;
                }
            }
        }
        Ok(links)
    }

    /// The data segment of the local heap at `addr`.
    fn local_heap(&self, addr: u64) -> Result<&'a [u8], String> {
        let mut c = self.cursor(addr)?;
        if c.take(4)? != b"HEAP" {
            return Err(format!("no local heap at {addr}"));
        }
        c.take(4)?; // version, reserved
        let size = self.length(&mut c)?;
        self.length(&mut c)?; // free list
        let data = self.offset(&mut c)?;
        let size = usize::try_from(size).map_err(|_| "a local heap too large")?;
        self.at(data, size)
    }

    /// A version-1 B-tree node of a group: its level and its children's addresses.
    fn btree_node(&self, addr: u64) -> Result<(u8, Vec<u64>), String> {
        let mut c = self.cursor(addr)?;
        if c.take(4)? != b"TREE" || c.u8()? != 0 {
            return Err(format!("no group B-tree node at {addr}"));
        }
        let level = c.u8()?;
        let entries = c.uint(2)?;
        self.offset(&mut c)?; // left sibling
        self.offset(&mut c)?; // right sibling
        let mut children = Vec::new();
        for _ in 0..entries {
            self.length(&mut c)?; // key: a heap offset
            children.push(self.offset(&mut c)?);
        }
        Ok((level, children))
    }

    /// Appends the links of the symbol table node at `addr`.
    fn symbol_table_node(
        &self,
        addr: u64,
        heap: &[u8],
        links: &mut Vec<(String, Link)>,
    ) -> Result<(), String> {
        let mut c = self.cursor(addr)?;
        if c.take(4)? != b"SNOD" {
            return Err(format!("no symbol table node at {addr}"));
        }
        c.take(2)?; // version, reserved
        let count = c.uint(2)?;
        for _ in 0..count {
            let name = self.length(&mut c)?;
            let header = self.offset(&mut c)?;
            let cache = c.uint(4)?;
            c.take(4)?; // reserved
            let mut scratch = Cursor {
                data: c.take(16)?,
                at: 0,
            };
            let link = if cache == 2 {
                Link::Soft(heap_string(heap, scratch.uint(4)?)?)
            } else {
                Link::Hard(header)
            };
            links.push((heap_string(heap, name)?, link));
        }
        Ok(())
    }
}

/// The null-terminated string at `offset` of a local heap's data segment.
fn heap_string(heap: &[u8], offset: u64) -> Result<String, String> {
    let rest = usize::try_from(offset)
        .ok()
        .and_then(|o| heap.get(o..))
        .ok_or_else(|| format!("heap offset {offset} is outside the heap"))?;
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or("a heap string without its terminator")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}
