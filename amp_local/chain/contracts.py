"""The fixed world of the synthetic chain: its contracts (tokens, NFT collections, Uniswap-V2
pairs, a router), the ABI selectors and event topics it uses, and the kinds of transactions."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from eth_hash.auto import keccak


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def topic(signature: str) -> bytes:
    return keccak(signature.encode())


SEL_TRANSFER = selector("transfer(address,uint256)")  # a9059cbb
SEL_APPROVE = selector("approve(address,uint256)")  # 095ea7b3
SEL_TRANSFER_FROM = selector("transferFrom(address,address,uint256)")  # 23b872dd
SEL_SWAP = selector("swap(uint256,uint256,address,bytes)")  # 022c0d9f
TOPIC_TRANSFER = topic("Transfer(address,address,uint256)")
TOPIC_APPROVAL = topic("Approval(address,address,uint256)")
TOPIC_SWAP = topic("Swap(address,uint256,uint256,uint256,uint256,address)")
# the topic0 words the chain's logs use, and their indexes
TOPIC0_WORDS = np.frombuffer(TOPIC_TRANSFER + TOPIC_APPROVAL + TOPIC_SWAP, np.uint8).reshape(3, 32)
TOPIC0_TRANSFER, TOPIC0_APPROVAL, TOPIC0_SWAP = 0, 1, 2
EMPTY_OMMERS_HASH = bytes.fromhex(
    "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
)


class Contract(NamedTuple):
    symbol: str
    kind: str  # "erc20" | "erc721" | "pair" | "router"
    address: bytes
    decimals: int | None = None
    token0: str | None = None  # pairs only
    token1: str | None = None


def contract_address(symbol: str) -> bytes:
    return keccak(f"amp-local:{symbol}".encode())[12:]


def _contracts() -> tuple[Contract, ...]:
    out = [
        Contract(symbol, "erc20", contract_address(symbol), decimals)
        for symbol, decimals in (("USDC", 6), ("USDT", 6), ("WETH", 18), ("DAI", 18), ("GRT", 18))
    ]
    out += [Contract(symbol, "erc721", contract_address(symbol)) for symbol in ("APES", "PUNKS")]
    by_symbol = {c.symbol: c for c in out}
    for a, b in (("WETH", "USDC"), ("WETH", "DAI"), ("GRT", "WETH")):
        token0, token1 = sorted((a, b), key=lambda s: by_symbol[s].address)
        symbol = f"UNI-V2 {a}/{b}"
        out.append(Contract(symbol, "pair", contract_address(symbol), 18, token0, token1))
    out.append(Contract("ROUTER", "router", contract_address("ROUTER")))
    return tuple(out)


CONTRACTS: tuple[Contract, ...] = _contracts()
TOKENS: tuple[Contract, ...] = tuple(c for c in CONTRACTS if c.kind == "erc20")
CONTRACT_IDS = {c.symbol: i for i, c in enumerate(CONTRACTS)}  # symbol -> index in CONTRACTS
ERC20_IDS = np.array([CONTRACT_IDS[c.symbol] for c in TOKENS])
ERC20_WEIGHTS = np.array([0.30, 0.25, 0.25, 0.12, 0.08])  # how often each token is used
NFT_IDS = np.array([i for i, c in enumerate(CONTRACTS) if c.kind == "erc721"])
PAIR_IDS = np.array([i for i, c in enumerate(CONTRACTS) if c.kind == "pair"])
PAIR_TOKEN0 = np.array([CONTRACT_IDS[CONTRACTS[i].token0] for i in PAIR_IDS])
PAIR_TOKEN1 = np.array([CONTRACT_IDS[CONTRACTS[i].token1] for i in PAIR_IDS])
ROUTER_ID = CONTRACT_IDS["ROUTER"]
DECIMALS = np.array([c.decimals or 0 for c in CONTRACTS])  # by contract index

N_EOAS = 4000  # externally owned accounts per seed
N_MINERS = 12
N_TOKEN_IDS = 10_000  # ERC-721 token ids are drawn from [0, N_TOKEN_IDS)

# transaction kinds, how often each occurs, and the (min, max) gas one uses when it succeeds
ETH_TRANSFER, ERC20_TRANSFER, ERC20_APPROVE, NFT_TRANSFER, SWAP, DEPLOY = range(6)
KIND_PROBABILITIES = np.array([0.30, 0.33, 0.08, 0.07, 0.20, 0.02])
KIND_GAS = {
    ETH_TRANSFER: (21_000, 21_001),
    ERC20_TRANSFER: (34_000, 65_000),
    ERC20_APPROVE: (44_000, 47_000),
    NFT_TRANSFER: (55_000, 95_000),
    SWAP: (95_000, 185_000),
    DEPLOY: (400_000, 1_500_000),
}
