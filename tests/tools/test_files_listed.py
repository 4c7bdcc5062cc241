#!/usr/bin/env python3
"""Every integration test file is compiled: a crate whose tests build as one binary
(`autotests = false`, tests/main.rs) must name each of its tests/*.rs files in tests/main.rs,
or cargo silently never builds the forgotten file."""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> int:
    missing = []
    for manifest in sorted(ROOT.glob("crates/*/Cargo.toml")):
        if not re.search(r"(?m)^autotests\s*=\s*false", manifest.read_text()):
            continue
        tests = manifest.parent / "tests"
        main_rs = tests / "main.rs"
        declared = set(re.findall(r"(?m)^\s*mod\s+(\w+)\s*;", main_rs.read_text())) if main_rs.exists() else set()
        for path in sorted(tests.glob("*.rs")):
            if path.name != "main.rs" and path.stem not in declared:
                missing.append(path.relative_to(ROOT))
    for path in missing:
        print(f"{path}: not listed in its crate's tests/main.rs (add `mod {path.stem};`), so it never runs")
    if not missing:
        print("every integration test file is listed in its crate's tests/main.rs")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
