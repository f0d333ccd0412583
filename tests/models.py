"""Small models shared by several test modules (specs as plain dicts and TOML)."""

from typing import Any

# A three-state S/P/R tumour with fast rates, so that short runs see switching, mutation and
# extinction.
SPR: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.8, "P": 0.05, "R": 0.6},
    "death": {"S": {"off": 0.1, "on": 0.9}, "P": 0.02, "R": 0.1},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.3}},
        {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.01}},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": 0.05}],
}

# The same tumour with slower S division and induction, which grows back after treatment: for
# the analysis and plot tests (progression, extinction and survival curves).
SPR_GROWING: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "division": {"S": 0.5, "P": 0.05, "R": 0.6},
    "death": {"S": {"off": 0.1, "on": 0.9}, "P": 0.02, "R": 0.1},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.2}},
        {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.01}},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": 0.05}],
}

# The S/P/R example of docs/jumps.md with a frequent mutation, and a run of it that jumps S and
# steps P event by event (2·10^4 and 10^2 cells, 8 steps of 0.5 days): for the tests of the
# jumps' regime counts and law cache.
JUMP_SPR: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.7, "P": 0.1, "R": 0.3},
    "death": {"S": {"off": 0.1, "on": 1.0}, "P": 0.05, "R": 0.2},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.1}},
        {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.02}},
    ],
    "mutation": [
        {"from": "S", "to": "R", "probability": 1e-4},
        {"from": "P", "to": "R", "probability": 1e-4},
    ],
}
JUMP_SPR_SCHEDULE: dict[str, Any] = {"kind": "intermittent", "on": 2.0, "off": 2.0}
JUMP_SPR_RUN: dict[str, Any] = {
    "initial": {"S": 20_000, "P": 100},
    "t_end": 4.0,
    "record_every": 1.0,
    "n_replicates": 12,
    "seed": 3,
    "method": "jump",
}

# A [model] table for configuration files given to the CLI.
SPR_TOML = """\
[model]
states    = ["S", "P", { name = "R", genetic = true }]
exposures = ["off", "on"]
division  = { S = 0.5, P = 0.05, R = 0.4 }
death     = { S = { off = 0.1, on = 0.9 }, P = 0.02 }
switch    = [ { from = "S", to = "P", rate = { off = 0.01, on = 0.3 } },
              { from = "P", to = "S", rate = { off = 0.2, on = 0.01 } } ]
mutation  = [ { from = "P", to = "R", probability = 0.05 } ]
"""

# The README's tumour (persisters, resistance by mutation).
README_SPR: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.04, "P": 0.005, "R": 0.035},
    "death": {"S": {"off": 0.01, "on": 0.30}, "P": 0.005, "R": 0.01},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.001, "on": 0.01}},
        {"from": "P", "to": "S", "rate": {"off": 0.05, "on": 0.001}},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": {"off": 1e-5, "on": 1e-4}}],
}
