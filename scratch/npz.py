"""Arrays from an .npz archive, without trusting the file: each array's header is read first, and
one that claims more bytes than its archive member holds (a corrupt file), that would not fit in
memory, or that holds Python objects is refused before any memory is allocated for it."""
import zipfile

import numpy as np

from .limits import check_fits

NPY_MAGIC = b"\x93NUMPY"


def read_npz(path, keys):
    """{key: array} for `keys` of the .npz at `path`; ValueError saying what is wrong otherwise."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        with open(path, "rb") as f:
            if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
                raise ValueError(f"{path} is a .npy file, not an .npz archive: save the arrays "
                                 f"{', '.join(keys)} together with numpy.savez") from None
        raise ValueError(f"cannot read {path} as an .npz file ({e}): is it corrupt?") from None
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    with archive:
        missing = [k for k in keys if f"{k}.npy" not in archive.namelist()]
        if missing:
            raise ValueError(f"{path} lacks the array {missing[0]!r}: it needs {', '.join(keys)}")
        return {k: read_member(archive, f"{k}.npy", path) for k in keys}


def read_member(archive, name, path):
    """One array of the archive, its header checked before its data is read."""
    info = archive.getinfo(name)
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
        if dtype.hasobject:
            raise ValueError(f"{path}: {name} holds Python objects, not numbers")
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize  # a Python int: no overflow
        if claimed > info.file_size:
            raise ValueError(f"{path}: {name} claims {claimed:,} bytes but holds {info.file_size:,}: "
                             "the file is corrupt")
        check_fits(claimed * 8 // max(dtype.itemsize, 1), f"{path}: {name} as float64", "use a smaller file")
        with archive.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"cannot read {name} of {path} ({e}): is it corrupt?") from None
