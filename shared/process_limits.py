"""Memory limits for child processes that run work on untrusted input.

The trainer's training processes and the registry's sandbox each cap their own address
space (``RLIMIT_AS``) before they import anything large: what counts is reserved address
space, not resident memory, so the imports count, and glibc's per-thread malloc arenas
(64 MB of address space each) would count too unless :data:`ALLOCATOR_ENV` limits them.
"""

from __future__ import annotations

import resource
import signal

# Set in the child's environment: a few arenas are plenty for one worker.
ALLOCATOR_ENV = {"MALLOC_ARENA_MAX": "2"}
# How a process under RLIMIT_AS dies when native code cannot allocate: an uncaught
# std::bad_alloc aborts; a failed mmap in a thread may segfault or raise SIGBUS.
MEMORY_SIGNALS = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS})


def cap_address_space(limit_bytes: int) -> None:
    """Cap this process's address space, soft and hard: it cannot raise it again."""
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
