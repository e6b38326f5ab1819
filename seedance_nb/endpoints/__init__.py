"""fal endpoints: what each one is (schema, price rule, sizes, output, input mapping) and Seedance 2.0's facts.

* :mod:`seedance_nb.endpoints.registry`: the registry, the one owner of what an endpoint is (``get``,
  ``all_endpoints``, ``register``, ``Endpoint.estimate`` / ``map_inputs`` / ``validate``);
* :mod:`seedance_nb.endpoints.rules`: price rules (per 1,000 tokens, per second by resolution, per video);
* :mod:`seedance_nb.endpoints.seedance`: Seedance 2.0's prices and size table (every name this module had
  before it became a package is still importable from here);
* :mod:`seedance_nb.endpoints.added`: ``sd.add_endpoint``, any fal endpoint from its OpenAPI document.

The module itself is callable: ``sd.endpoints()`` is :func:`seedance_nb.endpoints.registry.table`, the registry
as a DataFrame (a submodule that shares a public name must be that name, so ``import seedance_nb.endpoints``
never replaces the function).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .. import _names
from . import registry as registry
from . import rules as rules
from .registry import Endpoint as Endpoint
from .registry import all_endpoints as all_endpoints
from .registry import find as find
from .registry import get as get
from .registry import register as register
from .rules import PerSecond as PerSecond
from .rules import PerTokens as PerTokens
from .rules import PerVideo as PerVideo
from .rules import PriceRule as PriceRule
from .rules import price_rule as price_rule
from .seedance import _SNAPSHOT as _SNAPSHOT
from .seedance import ASPECT_RATIOS as ASPECT_RATIOS
from .seedance import AUTO_DURATION_ESTIMATE as AUTO_DURATION_ESTIMATE
from .seedance import BITRATE_MODES as BITRATE_MODES
from .seedance import DURATIONS as DURATIONS
from .seedance import FAMILY as FAMILY
from .seedance import FAST_PRICE as FAST_PRICE
from .seedance import FPS as FPS
from .seedance import KINDS as KINDS
from .seedance import MAX_SECONDS as MAX_SECONDS
from .seedance import MIN_SECONDS as MIN_SECONDS
from .seedance import MINI_PRICE as MINI_PRICE
from .seedance import PRICE_PER_1K_TOKENS as PRICE_PER_1K_TOKENS
from .seedance import PRICES as PRICES
from .seedance import RESOLUTIONS as RESOLUTIONS
from .seedance import SIZED_RESOLUTIONS as SIZED_RESOLUTIONS
from .seedance import SIZES as SIZES
from .seedance import STANDARD_PRICE as STANDARD_PRICE
from .seedance import TIERS as TIERS
from .seedance import VIDEO_INPUT_FACTOR as VIDEO_INPUT_FACTOR
from .seedance import CostEstimate as CostEstimate
from .seedance import EndpointId as EndpointId
from .seedance import Price as Price
from .seedance import _allowed as _allowed
from .seedance import _normalise_duration as _normalise_duration
from .seedance import emulated_endpoint as emulated_endpoint
from .seedance import endpoint_price as endpoint_price
from .seedance import estimate_cost as estimate_cost
from .seedance import frame_count as frame_count
from .seedance import kind as kind
from .seedance import nearest_aspect_ratio as nearest_aspect_ratio
from .seedance import output_size as output_size
from .seedance import price_per_1k_tokens as price_per_1k_tokens
from .seedance import resolution_problem as resolution_problem
from .seedance import resolutions_for as resolutions_for
from .seedance import tier as tier
from .seedance import video_tokens as video_tokens


def add_endpoint(openapi_json_or_id: Any, price: Any, **options: Any) -> Endpoint:
    """Register any fal endpoint: see :func:`seedance_nb.endpoints.added.add_endpoint` (``sd.add_endpoint``).

    Args:
        openapi_json_or_id: fal's OpenAPI document (a dict, or a path to its JSON), or an endpoint id (fetched
            from fal's OpenAPI with a key, else read from the cache).
        price: the price rule (``{"per_second": 0.1}``, ``{"per_second": {"720p": 0.1}}``, ``{"per_video": 0.4}``).
        **options: :func:`seedance_nb.endpoints.added.add_endpoint`'s keywords.
    """
    from .added import add_endpoint as add

    return add(openapi_json_or_id, price, **options)


class _CallableModule(types.ModuleType):
    """``seedance_nb.endpoints`` is also ``sd.endpoints()``: the registry as a DataFrame."""

    def __call__(self) -> Any:
        """The registry as a pandas DataFrame, one row per endpoint (id, model, family, tier, modality,
        resolutions, durations, price rule, provisional, snapshot date, price source)."""
        return registry.table()


_CallableModule.__module__ = "seedance_nb"
sys.modules[__name__].__class__ = _CallableModule
#: ``sd.endpoints`` is this module (the package face reads the name ``endpoints`` from here).
endpoints: Any = sys.modules[__name__]
_names.set_public_module(__name__)
