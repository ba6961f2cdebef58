"""Torch-free execution core: sandbox, running tests, comparing outputs, localization.

Imports nothing from the rest of repair/ and nothing heavy, so worker processes and reward functions load it fast.
"""

from repair.execution.execution import (
    ProblemResult,
    TestResult,
    default_pool,
    program_of,
    reference_outputs,
    run_many,
    run_tests,
    test_count,
)
from repair.execution.localize import LOCALIZED, TRACE_READINGS, Localization, localize
from repair.execution.sandbox import Isolation, Limits, Sandbox, SandboxPool, namespaces_available

__all__ = [
    "LOCALIZED",
    "TRACE_READINGS",
    "Isolation",
    "Limits",
    "Localization",
    "ProblemResult",
    "Sandbox",
    "SandboxPool",
    "TestResult",
    "default_pool",
    "localize",
    "namespaces_available",
    "program_of",
    "reference_outputs",
    "run_many",
    "run_tests",
    "test_count",
]
