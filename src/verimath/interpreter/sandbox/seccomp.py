"""A seccomp filter against sockets, process creation and kernel-level escapes, via libseccomp.

Built once in the fork server (``SeccompFilter.build``) and loaded in each session child after it
has dropped privileges. The default action is *allow*; the listed system calls fail with EPERM.
Two details matter for real workloads:

* ``clone`` is refused only without ``CLONE_THREAD``: threads (numpy, OpenBLAS, ``threading``)
  keep working while ``fork``-style clones do not.
* ``clone3`` answers ENOSYS, not EPERM: glibc then falls back to ``clone`` for new threads, whose
  flags the filter can inspect. EPERM would make every ``pthread_create`` fail.

Against the page-cache timing channel (evict a shared file such as a library's ``.pyc``, then
time reading it back to learn whether a neighbour loaded it), advice that evicts pages of a file
is refused: ``posix_fadvise(DONTNEED)``, ``madvise`` with ``MADV_COLD``, ``MADV_PAGEOUT`` or
``MADV_REMOVE``, and ``process_madvise``; the advice a program's own memory needs
(``MADV_DONTNEED``, ``MADV_FREE``, huge pages) is not. ``sysinfo`` (the machine's free memory
and process count, which move with a neighbour's) is refused as well.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
CLONE_THREAD = 0x00010000
INT_MASK = 0xFFFFFFFF  # an int argument: the kernel reads the low 32 bits only
POSIX_FADV_DONTNEED = 4
EVICTING_MADVICE = (9, 20, 21)  # MADV_REMOVE, MADV_COLD, MADV_PAGEOUT
LIBRARY_NAMES = ("libseccomp.so.2", "libseccomp.so")

DENIED_SYSCALLS = (
    # process creation and program execution
    "fork", "vfork", "execve", "execveat",
    # networking of any kind, local sockets included
    "socket", "socketpair",
    # reaching into other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    # namespaces, mounts and privileges
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_by_handle_at",
    "name_to_handle_at", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsmount",
    # memory the session's address-space limit does not see, and IPC objects that outlive it
    "memfd_create", "memfd_secret", "shmget", "shmat", "shmctl", "msgget", "msgsnd", "msgrcv",
    "msgctl", "semget", "semop", "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # leaving the session's process group, comparing kernel objects of other processes
    "setsid", "setpgid", "kcmp",
    # kernel attack surface that notebook code never needs
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "syslog", "sethostname", "setdomainname", "settimeofday", "clock_settime",
    "adjtimex",
    # what a neighbour's activity moves: the machine's free memory and process count
    "sysinfo", "process_madvise",
)  # fmt: skip


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def load_library(path: str | None = None) -> ctypes.CDLL:
    """Load libseccomp from ``path`` or by its usual names; OSError when absent."""
    candidates = [path] if path else [*LIBRARY_NAMES, ctypes.util.find_library("seccomp")]
    last_error: OSError | None = None
    for candidate in filter(None, candidates):
        try:
            lib = ctypes.CDLL(candidate, use_errno=True)
        except OSError as exc:
            last_error = exc
            continue
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        return lib
    raise OSError(f"libseccomp not found ({last_error})")


class SeccompFilter:
    """A prepared libseccomp context, ready to be loaded into a process."""

    def __init__(self, lib: ctypes.CDLL, context: int) -> None:
        self._lib = lib
        self._context = context

    @classmethod
    def build(cls, library_path: str | None = None) -> SeccompFilter:
        lib = load_library(library_path)
        context = lib.seccomp_init(SCMP_ACT_ALLOW)
        if not context:
            raise OSError("seccomp_init failed")
        flt = cls(lib, context)
        for name in DENIED_SYSCALLS:
            flt._add(name, _errno_action(errno.EPERM))
        flt._add("clone3", _errno_action(errno.ENOSYS))
        no_thread_flag = _ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)
        flt._add("clone", _errno_action(errno.EPERM), no_thread_flag)
        dont_need = _ArgCmp(3, SCMP_CMP_MASKED_EQ, INT_MASK, POSIX_FADV_DONTNEED)
        flt._add("fadvise64", _errno_action(errno.EPERM), dont_need)
        for advice in EVICTING_MADVICE:
            flt._add(
                "madvise",
                _errno_action(errno.EPERM),
                _ArgCmp(2, SCMP_CMP_MASKED_EQ, INT_MASK, advice),
            )
        return flt

    def _add(self, name: str, action: int, *conditions: _ArgCmp) -> None:
        number = self._lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # this kernel/architecture has no such system call
        array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
        rc = self._lib.seccomp_rule_add_array(self._context, action, number, len(conditions), array)
        if rc < 0:
            raise OSError(-rc, f"seccomp_rule_add({name}) failed: {errno.errorcode.get(-rc, rc)}")

    def load(self) -> None:
        """Install the filter in the calling process (irreversible; sets no_new_privs)."""
        rc = self._lib.seccomp_load(self._context)
        if rc < 0:
            raise OSError(-rc, f"seccomp_load failed: {errno.errorcode.get(-rc, rc)}")
