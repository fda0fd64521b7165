# -*- coding: utf-8 -*-
# Copyright: fleetpatch contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to fleetpatch.patching; may change without notice.

Private directories and files, the one way every part of the collection makes them: on the host
(the rollback journal, first-seen dates) and on the controller (the history store, reports).

private_directory() may run in several processes at once (two controllers sharing a store, two
plays on one host): a directory someone else created a moment before is not an error.
write_private_file() writes through a temporary file in the same directory, synced and renamed
into place, so a reader or a crash sees the old file or the new one, never half of one, and a
failed write leaves no temporary file behind.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat
import tempfile

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600

# fsync of a directory: what a file system or platform that cannot do it answers
_FSYNC_UNSUPPORTED = (errno.EINVAL, errno.EBADF, errno.EACCES, errno.EPERM, getattr(errno, "ENOTSUP", errno.EINVAL),
                      getattr(errno, "EOPNOTSUPP", errno.EINVAL))


def private_directory(path, mode=DIRECTORY_MODE):
    """Make sure the directory path exists, creating it (and its parents) when missing; returns
    path. A directory this call creates gets exactly mode, whatever the umask; a directory that
    already exists is left as it is (it may be shared, such as /tmp or a state directory an
    operator set up). Safe when another process creates the same directory at the same moment.
    Raises NotADirectoryError (an OSError) when path exists and is not a directory."""
    try:
        os.makedirs(path, mode)
    except FileExistsError:
        # it exists: made before, or by another process a moment ago (there is no "look, then make"
        # to race with). stat follows a symbolic link, as opening files inside path will.
        if not stat.S_ISDIR(os.stat(path).st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "Exists and is not a directory (a private directory was expected)",
                                     path)
        return path
    os.chmod(path, mode)   # created here: the umask may have taken bits off mode
    return path


def _fsync_directory(directory):
    """Make a rename in directory survive a crash, where the platform and file system allow it."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return   # a directory cannot be opened here (Windows, no read permission)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def write_private_file(path, data, mode=FILE_MODE, errors="strict"):
    """Write data to path atomically, the file private to its owner (mode). data is text: a str,
    an iterable of str (written piece by piece, never joined), or a function that writes to the
    text stream it is given. UTF-8, newlines written as given. errors: the encoder's error handler
    ("replace" writes "?" for what UTF-8 cannot hold, a lone surrogate, rather than fail).

    Through a temporary file in path's directory (which must exist): written, flushed, synced,
    renamed over path, then the directory synced. On any error (or interruption) before the rename
    the temporary file is removed and the error raised; path is untouched."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        try:
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "w", encoding="utf-8", errors=errors, newline="") as handle:
            if isinstance(data, str):
                handle.write(data)
            elif callable(data):
                data(handle)
            else:
                handle.writelines(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
    return path
