import itertools

import pytest
import torch

from foresight.sampler import EpochIndexed, GlobalBatchSampler


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_each_epoch_is_a_seeded_permutation_cut_into_global_batches():
    sampler = GlobalBatchSampler(10, 4, seed=5)
    batches = take(sampler, 4)  # 2 batches per epoch (drop last), so epochs 0 and 1
    expected0 = torch.randperm(10, generator=torch.Generator().manual_seed(5)).tolist()
    expected1 = torch.randperm(10, generator=torch.Generator().manual_seed(6)).tolist()
    assert [i for _, i in batches[0]] == expected0[:4]
    assert [i for _, i in batches[1]] == expected0[4:8]
    assert [i for _, i in batches[2]] == expected1[:4]
    assert {e for e, _ in batches[2]} == {1}


def test_resuming_at_batch_k_continues_the_same_stream():
    full = take(GlobalBatchSampler(13, 3, seed=0), 9)
    resumed = take(GlobalBatchSampler(13, 3, seed=0, start_batch=5), 4)
    assert resumed == full[5:]


def test_processes_share_each_global_batch_without_overlap():
    single = take(GlobalBatchSampler(12, 4, seed=1), 3)
    ranks = [take(GlobalBatchSampler(12, 4, seed=1, rank=r, world_size=2), 3) for r in range(2)]
    for b in range(3):
        assert ranks[0][b] + ranks[1][b] == single[b]


def test_too_small_dataset_and_indivisible_batch_are_clear_errors():
    with pytest.raises(ValueError, match="fewer than one batch of 8"):
        GlobalBatchSampler(5, 8, seed=0)
    with pytest.raises(ValueError, match="not divisible by 3 processes"):
        GlobalBatchSampler(50, 8, seed=0, world_size=3)


def test_epoch_indexed_sets_the_epoch_before_reading():
    class Recorder(torch.utils.data.Dataset):
        epoch = None

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return (self.epoch, i)

    assert EpochIndexed(Recorder())[(4, 2)] == (4, 2)
