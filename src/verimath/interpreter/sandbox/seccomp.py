"""A seccomp filter against sockets, process creation and kernel-level escapes, via libseccomp.

Compiled once in the fork server (``SeccompFilter.build``: libseccomp's rules, exported as the
kernel's BPF program) and installed in each session child after it has dropped privileges, with
two ``prctl`` calls on buffers the server prepared (``load``): a child neither compiles the
filter nor allocates anything to install it, so its copy-on-write faults stay few.

The default action is *allow*; the listed system calls fail with EPERM.
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
import os

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
CLONE_THREAD = 0x00010000
INT_MASK = 0xFFFFFFFF  # an int argument: the kernel reads the low 32 bits only
POSIX_FADV_DONTNEED = 4
EVICTING_MADVICE = (9, 20, 21)  # MADV_REMOVE, MADV_COLD, MADV_PAGEOUT
LIBRARY_NAMES = ("libseccomp.so.2", "libseccomp.so")
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
BPF_INSTRUCTION_BYTES = 8  # struct sock_filter: u16 code, u8 jt, u8 jf, u32 k
MAX_BPF_INSTRUCTIONS = 4096  # BPF_MAXINSNS: the kernel refuses longer programs

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


class _SockFprog(ctypes.Structure):
    """``struct sock_fprog``: the length of a BPF program and where its instructions are."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


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
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        return lib
    raise OSError(f"libseccomp not found ({last_error})")


class SeccompFilter:
    """A compiled filter: its BPF program and the prepared call that installs it."""

    def __init__(self, program: bytes) -> None:
        count = len(program) // BPF_INSTRUCTION_BYTES
        if not program or len(program) % BPF_INSTRUCTION_BYTES or count > MAX_BPF_INSTRUCTIONS:
            raise OSError(
                f"seccomp: libseccomp exported a malformed program ({len(program)} bytes)"
            )
        self.program = program
        self._instructions = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(count, ctypes.addressof(self._instructions))
        self._fprog_address = ctypes.addressof(self._fprog)
        libc = ctypes.CDLL(None, use_errno=True)
        self._prctl = libc.prctl
        self._prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        self._prctl.restype = ctypes.c_int

    @classmethod
    def build(cls, library_path: str | None = None) -> SeccompFilter:
        """Compile the rules with libseccomp and keep the resulting BPF program."""
        lib = load_library(library_path)
        context = lib.seccomp_init(SCMP_ACT_ALLOW)
        if not context:
            raise OSError("seccomp_init failed")
        try:
            _add_rules(lib, context)
            return cls(_export_bpf(lib, context))
        finally:
            lib.seccomp_release(context)

    def load(self) -> None:
        """Install the filter in the calling process (irreversible; sets no_new_privs first, as
        the kernel requires of an unprivileged caller and libseccomp does by default)."""
        if self._prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(error)}")
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._fprog_address, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_SECCOMP) failed: {os.strerror(error)}")


def _add_rules(lib: ctypes.CDLL, context: int) -> None:
    for name in DENIED_SYSCALLS:
        _add(lib, context, name, _errno_action(errno.EPERM))
    _add(lib, context, "clone3", _errno_action(errno.ENOSYS))
    no_thread_flag = _ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)
    _add(lib, context, "clone", _errno_action(errno.EPERM), no_thread_flag)
    dont_need = _ArgCmp(3, SCMP_CMP_MASKED_EQ, INT_MASK, POSIX_FADV_DONTNEED)
    _add(lib, context, "fadvise64", _errno_action(errno.EPERM), dont_need)
    for advice in EVICTING_MADVICE:
        condition = _ArgCmp(2, SCMP_CMP_MASKED_EQ, INT_MASK, advice)
        _add(lib, context, "madvise", _errno_action(errno.EPERM), condition)


def _add(lib: ctypes.CDLL, context: int, name: str, action: int, *conditions: _ArgCmp) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        return  # this kernel/architecture has no such system call
    array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
    rc = lib.seccomp_rule_add_array(context, action, number, len(conditions), array)
    if rc < 0:
        raise OSError(-rc, f"seccomp_rule_add({name}) failed: {errno.errorcode.get(-rc, rc)}")


def _export_bpf(lib: ctypes.CDLL, context: int) -> bytes:
    """The filter as the kernel's BPF program (architecture check included), via a memfd."""
    fd = os.memfd_create("verimath-seccomp", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(context, fd)
        if rc < 0:
            raise OSError(-rc, f"seccomp_export_bpf failed: {errno.errorcode.get(-rc, rc)}")
        size = os.fstat(fd).st_size
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)
