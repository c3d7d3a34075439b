"""Text-to-motion generators: a text encoder and a backbone over the tokens of a tokenizer run.

``generator.config`` holds the stage's own settings, ``generator.tokens`` the token export the
stage trains on, ``generator.model`` the module and its run directory, ``generator.task`` the
training stage. Sampling lives in ``motionkit.generate``.
"""
