"""Processing provider of the plugin: the 'Super-resolve Sentinel-2 extent' algorithm."""
