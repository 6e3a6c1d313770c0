"""Where the server's CPU goes for one tool: py-spy samples the benchmark server while clients call it.

    .venv/bin/python bench/profile_server.py get_customer [--clients 8] [--seconds 15] [--out /tmp/x.txt]

Needs py-spy (`pip install py-spy`, not a project dependency). Prints the top functions by own and total time
(py-spy's --format raw, folded stacks, summarised here). Demo scale, as alice.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEMO_USER, bench_cluster, http_server, prepare_demo, token_for  # noqa: E402
from bench.ladder import ladder_calls, throughput  # noqa: E402


def summarise(folded: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    out = [f"{samples} samples", "", "own time:"]
    out += [f"  {n / samples:6.1%}  {f}" for f, n in own.most_common(top)]
    out += ["", "total time (inclusive):"]
    out += [f"  {n / samples:6.1%}  {f}" for f, n in total.most_common(top * 2)]
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tool")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="/tmp/renubu-profile.folded")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        sys.exit("py-spy not found: pip install py-spy")
    calls = {params.get("name", method): (method, params) for _, method, params in ladder_calls("demo")}
    method, params = calls.get(args.tool, ("tools/call", {"name": args.tool, "arguments": {}}))
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        with http_server(cluster.app_dsn(demo)) as server:
            token = token_for(DEMO_USER)
            spy = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(server.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "500",
                    "--duration",
                    str(int(args.seconds)),
                    "--output",
                    args.out,
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            rate, cpu, _ = await throughput(
                cluster, server.port, token, method, params, args.clients, args.seconds + 1, server.pid
            )
            spy.wait()
            print(f"{args.tool}: {rate:.0f} calls/s, server CPU {cpu:.2f} ms/call")
            print(summarise(Path(args.out), args.top))


if __name__ == "__main__":
    asyncio.run(main())
