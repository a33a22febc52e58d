#!/usr/bin/env python3
"""Turns the survey (survey.py, run by PyTorch 2.6) and pevis's load results
into survey.md: which operators the files call that PyTorch 1.13 lacks, and
which files pevis refuses. Runs with Debian 12's PyTorch 1.13, whose operator
list is LibTorch 1.13's.

    survey_report.py SURVEY.json LOADS.txt > survey.md
"""
import json
import sys

import torch


def main():
    survey = json.load(open(sys.argv[1]))
    loads = [line.rstrip("\n") for line in open(sys.argv[2]) if line.strip()]
    have = {schema.name for schema in torch._C._jit_get_all_schemas()}
    users = {}
    for name, ops in survey["files"].items():
        for op in ops:
            users.setdefault(op, []).append(name)
    missing = {op: names for op, names in users.items() if op not in have}
    refused = [line for line in loads if " refused: " in line]
    print("# Operators of PyTorch %s files, against LibTorch %s" % (survey["pytorch"], torch.__version__))
    print()
    print("Made by tests/data/torch2/make.sh: every `torch.nn` layer that scripts, and torchvision %s's"
          " classification models scripted, traced with grad and traced without grad (eval mode),"
          " saved by PyTorch %s; then loaded by pevis." % (survey["torchvision"], survey["pytorch"]))
    print()
    print("- files: %d; operators called: %d; files pevis loads: %d of %d"
          % (len(survey["files"]), len(users), len(loads) - len(refused), len(loads)))
    print("- could not be made (the layer does not script, or needs arguments): %d" % len(survey["failed"]))
    print()
    print("## Operators LibTorch %s lacks" % torch.__version__)
    print()
    print("| operator | files that call it |")
    print("|---|---|")
    for op, names in sorted(missing.items()):
        print("| `%s` | %d: %s |" % (op, len(names), ", ".join(sorted(names)[:6]) + (" ..." if len(names) > 6 else "")))
    print()
    print("## Files pevis refuses")
    print()
    for line in refused or ["none"]:
        print("- " + line)
    print()
    print("## Not made")
    print()
    for name, why in sorted(survey["failed"].items()):
        print("- %s: %s" % (name, why))


if __name__ == "__main__":
    main()
