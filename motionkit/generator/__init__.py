"""Text-to-motion generators: a text encoder and a backbone over the tokens of a tokenizer run.

``generator.config`` holds the stage's own settings, ``generator.model`` the module and its run
directory, ``generator.task`` the training stage; the token export it trains on is
``tokenizer.export``. Sampling lives in ``motionkit.generate``.
"""
