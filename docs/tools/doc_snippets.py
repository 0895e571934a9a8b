#!/usr/bin/env python3
"""Compiles every ```cpp block of the given Markdown files, so the docs' code cannot rot.

    doc_snippets.py PATH... -- COMPILER FLAGS...      (a PATH is a Markdown file or a folder of them)

All blocks go into one translation unit (one parse of xgrad's headers), each in a namespace of its
own and, unless marked otherwise, inside a function body, so a block may be a run of statements.
`#include` lines are hoisted to the top. `#line` directives make the compiler's errors point at the
Markdown file and line. A block is shaped by an HTML comment on the line just before its fence:

    <!-- snippet: namespace scope -->        it defines functions or templates: not wrapped
    <!-- snippet: given DECLARATIONS -->     what the surrounding text assumes (a model, a seed...)
    <!-- snippet: not compiled -->           it shows library internals no public header declares
"""
import os
import re
import subprocess
import sys
import tempfile

MARKER = re.compile(r"^<!--\s*snippet:\s*(.*?)\s*-->\s*$")


def blocks(path):
    """Yields (first code line number, lines, marker text) for each ```cpp block of path."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            marker = MARKER.match(lines[i - 1].strip()) if i else None
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            yield start + 1, lines[start:end], marker.group(1) if marker else ""
            i = end
        i += 1


def translation_unit(files):
    includes = {"#include <xgrad/xgrad.hpp>"}
    parts = []
    count = 0
    for path in files:
        name = os.path.relpath(path)
        for line_number, code, marker in blocks(path):
            if marker and marker not in ("namespace scope", "not compiled") and not marker.startswith("given "):
                sys.exit(f"{name}:{line_number - 1}: unknown snippet marker '{marker}'")
            if marker == "not compiled":
                continue
            count += 1
            includes.update(line.strip() for line in code if line.lstrip().startswith("#include"))
            body = ["" if line.lstrip().startswith("#include") else line for line in code]
            directive = f'#line {line_number} "{name}"'
            given = marker[len("given "):] if marker.startswith("given ") else ""
            parts.append(f"namespace snippet_{count} {{\nusing namespace xg;")
            if marker == "namespace scope":
                parts += [directive, *body]
            else:
                parts += ["[[maybe_unused]] void snippet() {", given, directive, *body, "}"]
            parts.append("}")
    return count, "\n".join(sorted(includes) + parts) + "\n"


def main():
    separator = sys.argv.index("--")
    paths, command = sys.argv[1:separator], sys.argv[separator + 1:]
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".md"))
        else:
            files.append(path)
    count, source = translation_unit(files)
    with tempfile.NamedTemporaryFile("w", suffix=".cpp") as tu:
        tu.write(source)
        tu.flush()
        result = subprocess.run(command + ["-fsyntax-only", tu.name])
    print(f"{count} snippets from {len(files)} files: {'compiled' if result.returncode == 0 else 'FAILED'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
