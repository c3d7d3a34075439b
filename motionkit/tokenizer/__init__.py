"""Motion tokenizer: a convolutional motion VAE whose latents pass through a quantizer."""
