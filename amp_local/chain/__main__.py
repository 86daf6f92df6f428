"""`python -m amp_local.chain OUT_DIR [--blocks N] [--follow]`: write (and follow) a synthetic chain."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from amp_local.chain.follow import ChainFollower
from amp_local.chain.write import generate_chain


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m amp_local.chain",
        description="Write (and follow) a synthetic EVM chain as Amp raw datasets.",
    )
    p.add_argument("out_dir", type=Path)
    p.add_argument("--blocks", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--network", default="mainnet")
    p.add_argument("--start-block", type=int, default=0)
    p.add_argument("--tx-per-block", type=float, default=8.0)
    p.add_argument("--force", action="store_true", help="regenerate even if the chain is there")
    p.add_argument("--follow", action="store_true", help="keep appending blocks at the head")
    p.add_argument("--interval", type=float, default=12.0, help="seconds between appended blocks")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    info = generate_chain(
        a.out_dir,
        blocks=a.blocks,
        seed=a.seed,
        network=a.network,
        start_block=a.start_block,
        tx_per_block=a.tx_per_block,
        force=a.force,
    )
    verb = "reused" if info.reused else f"generated in {time.perf_counter() - t0:.1f}s"
    print(f"chain {info.start_block}..{info.head} {verb} at {info.out_dir}")
    if a.follow:
        follower = ChainFollower(
            a.out_dir, a.interval, on_append=lambda f, last: print(f"appended block {last}")
        )
        follower.start()
        try:
            while True:
                time.sleep(1)
                if follower.error:
                    raise follower.error
        except KeyboardInterrupt:
            follower.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
