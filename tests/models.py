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
