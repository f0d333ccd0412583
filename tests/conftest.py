"""Shared test configuration.

Two tiers, chosen by environment variables, so that CI stays fast and a deep run is one command:

- ``DTP_DEEP=1`` runs the statistical tests at the 5%-power tier (replicate counts that detect one
  rate off by 5%) and selects the deep hypothesis profile; without it they use the 20% tier.
- ``HYPOTHESIS_PROFILE=fast|deep`` overrides the hypothesis profile.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

DEEP = os.environ.get("DTP_DEEP", "") not in ("", "0")

settings.register_profile(
    "fast",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deep" if DEEP else "fast"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DEEP:
        return
    skip = pytest.mark.skip(reason="deep tier: run with DTP_DEEP=1")
    for item in items:
        if "deep" in item.keywords:
            item.add_marker(skip)
