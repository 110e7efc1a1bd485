"""Writes the HDF5 files of tests/data/hdf5_variants: one small network in the reference layout,
stored the ways h5py can store it, valid and not.

Run from anywhere, with h5py and numpy installed:  python make.py [OUTPUT_FOLDER]
(default: the folder of this script). tests/h5_interop.rs runs it again to check that the
committed files are what it writes.

Valid, and read by apcsim as plain.h5:
  userblock.h5                  a 512-byte userblock before the HDF5 data
  soft_link.h5                  weights/W1 a soft link to /somewhere/W1 (version-1 groups)
  soft_links_latest.h5          the latest format (link messages) with a 1024-byte userblock:
                                weights/W1 soft to /somewhere/W1, batch a soft link to the
                                group /data, weights/W0 soft to the relative path hidden/W0
  soft_link_chain.h5            weights/W1 -> /b/W1 -> /a/W1, and weights itself a soft link
Unusable (exit 2, one line naming the file and the link or dataset):
  dangling_soft_link.h5         weights/W1 a soft link to /nowhere/W1
  soft_link_cycle.h5            weights/W1 a soft link to itself
  external_link.h5              weights/W1 an external link to another file
  declared_over_limit.h5        batch/x declared 2^26 x 16 (8.6 GB as f64) in a 10 KB file
  declared_beyond_file.h5       batch/x declared 2^20 x 3 (25 MB) in a 10 KB file
"""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


def values(shape, seed):
    n = int(np.prod(shape))
    return (np.sin(seed + 0.37 * np.arange(n)) * 0.5).reshape(shape)


def network(f):
    """A tanh network of widths 3, 4, 2 and a batch of 2 samples."""
    f["weights/W0"] = values((4, 3), 0.1)
    f["weights/W1"] = values((2, 4), 0.7)
    f["batch/x"] = values((2, 3), 2.1)
    f["batch/y"] = values((2, 2), 2.9)
    f.attrs["activation"] = "tanh"
    f.attrs["parameterisation"] = "sp"
    f.attrs["skips"] = 0
    f.create_group("euler")
    f["euler"].attrs["dt"] = 0.1
    f["euler"].attrs["steps"] = 20


def move_behind_soft_link(f, name, target):
    """Moves the dataset `name` to `target` and leaves a soft link to it at `name`."""
    f.move(name, target)
    f[name] = h5py.SoftLink(target)


def write(name, fill, **kwargs):
    with h5py.File(os.path.join(out, name), "w", **kwargs) as f:
        network(f)
        fill(f)


write("plain.h5", lambda f: None)
write("userblock.h5", lambda f: None, userblock_size=512)
write("soft_link.h5", lambda f: move_behind_soft_link(f, "weights/W1", "/somewhere/W1"))


def latest(f):
    move_behind_soft_link(f, "weights/W1", "/somewhere/W1")
    f.move("batch", "data")
    f["batch"] = h5py.SoftLink("/data")
    f.move("weights/W0", "weights/hidden/W0")
    f["weights/W0"] = h5py.SoftLink("hidden/W0")


write("soft_links_latest.h5", latest, libver="latest", userblock_size=1024)


def chain(f):
    move_behind_soft_link(f, "weights/W1", "/a/W1")
    f["b/W1"] = h5py.SoftLink("/a/W1")
    del f["weights/W1"]
    f["weights/W1"] = h5py.SoftLink("/b/W1")
    f.move("weights", "real_weights")
    f["weights"] = h5py.SoftLink("/real_weights")


write("soft_link_chain.h5", chain)


def replace(name, link):
    def fill(f):
        del f[name]
        f[name] = link

    return fill


write("dangling_soft_link.h5", replace("weights/W1", h5py.SoftLink("/nowhere/W1")))
write("soft_link_cycle.h5", replace("weights/W1", h5py.SoftLink("/weights/W1")))
write("external_link.h5", replace("weights/W1", h5py.ExternalLink("other.h5", "/W1")))


def declared(shape):
    def fill(f):
        del f["batch/x"]
        # Never written: the file holds the shape, not the data.
        f.create_dataset("batch/x", shape=shape, dtype="f8")

    return fill


write("declared_over_limit.h5", declared((2**26, 16)))
write("declared_beyond_file.h5", declared((2**20, 3)))
