"""Batches and their tensors for the transformers backend: length-sorted batches under a
progress bar, padded token ids with their attention masks, and KV-cache rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def sorted_batches(
    items: list, size: int, desc: str, key: Callable[[Any], Any], show_progress: bool
) -> Iterator[list]:
    """Batches of at most `size` items, the largest `key` first, under a tqdm bar."""
    from tqdm.auto import tqdm

    order = sorted(items, key=key, reverse=True)
    with tqdm(total=len(order), desc=desc, unit="req", disable=not show_progress) as bar:
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            yield batch
            bar.update(len(batch))


def left_pad(sequences: list[list[int]], pad_id: int, device):
    """(ids, mask) long tensors on `device`, each sequence ending in the last column."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    return ids.to(device), mask.to(device)


def right_pad(sequences: list[list[int]], pad_id: int, device):
    """(ids, mask) long tensors on `device`, each sequence starting in the first column."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)


def new_cache(model):
    """An empty KV cache for `model`."""
    from transformers import DynamicCache

    try:
        return DynamicCache(config=model.config)
    except TypeError:  # transformers < 4.56
        return DynamicCache()


def select_cache_rows(cache, index) -> None:
    """Keep (or repeat) the cache's batch rows named by the `index` tensor, in place."""
    if hasattr(cache, "batch_select_indices"):
        cache.batch_select_indices(index)
    else:  # pragma: no cover - old transformers
        cache.reorder_cache(index)
