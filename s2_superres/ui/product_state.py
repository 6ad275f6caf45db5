"""What the dock knows about the product it processes (Qt-free): the band mapping, the opened product and the
user's DN offset override. It belongs to one product: the dock starts a new one when the input becomes another
product or the project is cleared, so nothing of it leaks into the next product. QgsSettings hold none of it
(they remember preferences only: preset, pixel size, output folder)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable


def product_key(paths: Iterable[str], source: str | None = None) -> frozenset[str]:
    """What tells one product from another: the location typed in (STAC item, .SAFE, zip), else the folders of
    the band files (the folder of ``SENTINEL2_L1C:/p/X.SAFE/MTD_MSIL1C.xml:10m:…`` is that of all its subdatasets)."""
    return frozenset([source]) if source is not None else frozenset(os.path.dirname(p) for p in paths)


@dataclass
class ProductState:
    key: frozenset[str] = frozenset()           #: product_key of the product
    mapping: dict[str, Any] = field(default_factory=dict)   #: output band -> ui.layers.BandRef
    product: Any = None                         #: the core.sources.Product opened for the current choices
    opened_with: tuple | None = None            #: what ``product`` was opened with (band map or source, offset)
    granular: tuple | None = None               #: (source, offset) of a multi-granule product: the extent picks
    offset: float | None = None                 #: the user's DN offset override (None: the product's own)
    extent_chosen: bool = False                 #: the user chose the extent (else it follows the map view)

    def same_product(self, key: frozenset[str]) -> bool:
        """True when ``key`` is this product (it shares a folder: more or fewer bands of it were chosen)."""
        return bool(key & self.key)
