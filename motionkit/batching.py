"""Batches of equal-length items: what the tokenizer passes (export, evaluation, decoding) share.

A convolutional tokenizer gives a clip the same result alone or in a batch of clips of its own
length (no padding, so every convolution sees the same frames); grouping by length therefore
batches without changing any result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def equal_length_batches(
    lengths: Sequence[int], batch_size: int
) -> Iterator[tuple[int, list[int]]]:
    """``(length, indices)`` of items of one length, at most ``batch_size`` indices at a time,
    shortest length first; every index of ``lengths`` appears once."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    groups: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        groups.setdefault(int(length), []).append(i)
    for length in sorted(groups):
        members = groups[length]
        for start in range(0, len(members), batch_size):
            yield length, members[start : start + batch_size]
