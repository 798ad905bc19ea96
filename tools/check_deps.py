#!/usr/bin/env python3
"""make check-deps: fails when a module imports one that is not below it.

Reads every `import` line of every Swift module (Sources/<Module>, Pipelines/) and checks it
against LEVELS, the module graph of Package.swift from the bottom up: a module may import
project modules of lower levels only (modules of one level are independent of each other).
Also fails when Package.swift names a module LEVELS does not, or the other way round, so the list
stays the package's. Standard library only.
"""
import os
import re
import sys

# Lowest first; one list per level. Keep in step with Package.swift and README.md's table.
LEVELS = [
    ["CFFmpeg", "CSndFile", "CFFTW", "COpenBLAS", "CHDF5", "CEspeakNG", "CZlib", "CMPI"],
    ["COpenCVShim", "Common"],
    ["Media", "AudioFeatures", "Shards", "Tensor"],
    ["Dataset", "NN", "Distributed"],
    ["Models", "Face"],
    ["Training", "Pipelines", "Dubbing", "Corpus"],
    ["cals"],
]
# Named by issue 22: what the layering exists to prevent.
FORBIDDEN = {("Pipelines", "Training"), ("Dubbing", "Training")}

IMPORT = re.compile(r"^\s*(?:@\w+\s+)*import\s+(?:(?:struct|class|enum|protocol|typealias|func|var|let)\s+)?(\w+)")
TARGET = re.compile(r"\.(?:target|executableTarget|systemLibrary)\(\s*name:\s*\"(\w+)\"")


def module_folders(root):
    """(module, folder) of every module target: Sources/<name>, and Pipelines/."""
    sources = os.path.join(root, "Sources")
    folders = [(name, os.path.join(sources, name)) for name in sorted(os.listdir(sources))
               if os.path.isdir(os.path.join(sources, name))]
    return folders + [("Pipelines", os.path.join(root, "Pipelines"))]


def imports(folder):
    """(file, line number, imported module) of every import in the folder's Swift files."""
    for directory, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            if not name.endswith(".swift"):
                continue
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    match = IMPORT.match(line)
                    if match:
                        yield path, number, match.group(1)


def main(root):
    level = {module: i for i, modules in enumerate(LEVELS) for module in modules}
    problems = []
    with open(os.path.join(root, "Package.swift"), encoding="utf-8") as f:
        declared = set(TARGET.findall(f.read())) - {"TestSupport", "ModelTestSupport"}
    for module in sorted(declared - set(level)):
        problems.append(f"Package.swift: module {module} is not in LEVELS of {sys.argv[0]}")
    for module in sorted(set(level) - declared):
        problems.append(f"{sys.argv[0]}: LEVELS names {module}, which Package.swift does not declare")
    for module, folder in module_folders(root):
        if module not in level:
            continue  # reported above when Package.swift declares it
        for path, number, imported in imports(folder):
            where = f"{os.path.relpath(path, root)}:{number}"
            if (module, imported) in FORBIDDEN:
                problems.append(f"{where}: {module} must not import {imported}")
            elif imported in level and level[imported] >= level[module]:
                problems.append(f"{where}: {module} (level {level[module]}) imports {imported} "
                                f"(level {level[imported]}), which is not below it")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-deps: {len(level)} modules, every import points down")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
