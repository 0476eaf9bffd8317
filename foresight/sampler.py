"""A resumable, process-sharded sampler of training windows.

Order is a pure function of (seed, epoch): every epoch is a fresh permutation from a generator seeded with
``seed + epoch``. A global batch of ``batch_size`` indices is cut from it and each process takes its
contiguous share, so the data seen does not depend on the number of processes, and resuming after ``n``
global batches needs only ``n``: no iterator state to pickle. We shard here rather than letting Accelerate wrap
the DataLoader because its shard-and-skip path cannot reproduce the exact batch order after a resume with
worker-side augmentation seeded per (epoch, index).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class GlobalBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields this process's share of each global batch as ``(epoch, index)`` pairs, forever.

    The epoch travels with each index because DataLoader workers hold their own copy of the dataset: it is the
    only way their augmentation can be seeded per (epoch, index) without restarting them every epoch.
    """

    def __init__(
        self, num_samples: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1, start_batch: int = 0
    ) -> None:
        if batch_size % world_size:
            raise ValueError(f"global batch size {batch_size} is not divisible by {world_size} processes")
        if num_samples < batch_size:
            raise ValueError(
                f"the dataset has {num_samples} training windows, fewer than one batch of {batch_size}: "
                f"lower train.batch_size or add data"
            )
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.start_batch = start_batch

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // self.batch_size

    def epoch_of(self, global_batch: int) -> int:
        return global_batch // self.batches_per_epoch

    def permutation(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.num_samples, generator=generator)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        per_process = self.batch_size // self.world_size
        batch = self.start_batch
        while True:
            epoch, within = divmod(batch, self.batches_per_epoch)
            order = self.permutation(epoch)
            for b in range(within, self.batches_per_epoch):
                start = b * self.batch_size + self.rank * per_process
                yield [(epoch, i) for i in order[start : start + per_process].tolist()]
            batch = (epoch + 1) * self.batches_per_epoch

    def __len__(self) -> int:  # infinite; DataLoader only needs this for progress display
        return 2**31 - 1


class EpochIndexed(torch.utils.data.Dataset):
    """Lets a dataset with ``set_epoch`` be indexed by the sampler's ``(epoch, index)`` pairs."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)
        return self.dataset[index]
