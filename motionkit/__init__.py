"""motionkit: motion tokenization and text-to-motion generation, with scaling-law tooling.

Importing the package is cheap: torch, vector-quantize-pytorch and x-transformers are imported
only by the code paths that build models.
"""

__version__ = "0.1.0"
