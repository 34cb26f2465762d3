"""The product carries no test-only code: bugs are mutant subclasses and the crash layer lives in the checker."""
from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

import leaderfollower.impl as impl_package
from leaderfollower.checker.cli.main import main
from leaderfollower.checker.conform.mutants import MUTANTS, REAL, implementation
from leaderfollower.impl.core import RaftCore
from leaderfollower.impl.storage import Storage

IMPL = Path(impl_package.__file__).parent
TEST_ONLY = re.compile(r"SEEDED_BUGS|seeded.bug|CrashFileLayer|_Inode|TEST ONLY|test only", re.IGNORECASE)


def test_impl_sources_name_no_seeded_bug_and_no_fake_file_layer() -> None:
    hits = [f"{p.name}:{n}: {line.strip()}" for p in sorted(IMPL.glob("*.py"))
            for n, line in enumerate(p.read_text().splitlines(), 1) if TEST_ONLY.search(line)]
    assert hits == []


def test_the_node_command_has_no_bug_switch() -> None:
    out = CliRunner().invoke(main, ["node", "--id", "0", "--seeded-bug", "apply-before-commit"])
    assert out.exit_code == 2 and "No such option '--seeded-bug'" in out.output


def test_every_mutant_is_a_subclass_of_the_real_core_or_storage() -> None:
    for name, mutant in MUTANTS.items():
        core, storage = mutant.impl
        assert issubclass(core, RaftCore) and issubclass(storage, Storage)
        assert (core, storage) != REAL, name
        assert implementation([name]) == mutant.impl
    assert implementation([]) == REAL
