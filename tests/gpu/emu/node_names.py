#!/usr/bin/env python3
# Names the kernels of tst_cuda_model_emu's NODES lines (and GRAPHDIFF's changed kinds), and
# lists an ORDER line's kernels in launch order (a decode step's dependent chain).
#
# The lines give kernel addresses of the running process and the address of the test's check()
# function; the binary's symbol table gives check()'s offset, so every address maps to an offset
# in the binary, which addr2line names (kernels in anonymous namespaces included).
#
#   FATHOM_EMU_ONLY=stepgraph build/bin/tst_cuda_model_emu | tests/gpu/emu/node_names.py \
#       build/bin/tst_cuda_model_emu
import re
import subprocess
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: node_names.py BINARY < test-output")
    binary = sys.argv[1]
    nm = subprocess.run(["nm", "-C", binary], capture_output=True, text=True, check=True).stdout
    check = None
    for line in nm.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and re.fullmatch(r"(\(anonymous namespace\)::)?check\(bool, std::.*string.*\)", parts[2]):
            check = int(parts[0], 16)
    if check is None:
        sys.exit(f"{binary}: no check(bool, std::string) symbol")
    for line in sys.stdin:
        m = re.match(r"(NODES|GRAPHDIFF|ORDER): (.*?)\(check\(\) at (0x[0-9a-f]+)\)[^:]*:(.*)", line)
        if not m:
            continue
        base = int(m.group(3), 16) - check
        if m.group(1) == "ORDER":
            pairs = [(a, i) for i, a in enumerate(re.findall(r"0x[0-9a-f]+", m.group(4)))]
        else:
            pairs = re.findall(r"(0x[0-9a-f]+):(\d+)", m.group(4))
        offsets = [hex(int(a, 16) - base) for a, _ in pairs]
        names = subprocess.run(["addr2line", "-f", "-C", "-e", binary] + offsets,
                               capture_output=True, text=True, check=True).stdout.splitlines()
        print(f"{m.group(1)}: {m.group(2).strip()}")
        for i, (_, count) in enumerate(pairs):
            name = names[2 * i].replace("fathom::", "").replace("(anonymous namespace)::", "")
            print(f"  {int(count):5d}  {name[:120]}")


if __name__ == "__main__":
    main()
