"""One 300-W preparation for notebooks 3 and 4: the faces and their split, the crop, the
datasets, the mirror permutation and the augmentation, from a profile's settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..config import IbugConfig, dataset_dir
from ..geometry import mirror_permutation
from .augment import Augment
from .datasets import KeypointDataset
from .ibug import (
    IBUG_DIR,
    TEST_XML,
    TRAIN_XML,
    IbugFace,
    fit_crop,
    ibug_dataset,
    load_xml,
    split_by_image,
    subset_of,
)


@dataclass(frozen=True)
class IbugData:
    """300-W faces split by image, cropped at `size`, with Part 3's augmentation.

    `train` is the augmented training set; `val` and `val_squares` the validation crops and
    the squares they were cut from; `true_px` and `subsets` the validation truth and labels.
    """

    split_train: list[IbugFace]  # every training face of the split
    train_faces: list[IbugFace]  # those the profile trains on (the quick profile: fewer)
    val_faces: list[IbugFace]
    test_faces: list[IbugFace]
    crop_factor: float
    crop_shift: float
    size: int
    grayscale: bool
    perm: np.ndarray
    augment: Augment
    train: KeypointDataset
    val: KeypointDataset
    val_squares: np.ndarray

    @property
    def true_px(self) -> np.ndarray:
        return np.stack([f.points for f in self.val_faces])

    @property
    def subsets(self) -> np.ndarray:
        return np.array([subset_of(f.image_path) for f in self.val_faces])

    @cached_property
    def test(self) -> tuple[KeypointDataset, np.ndarray]:
        """The Kaggle test crops (no landmarks) and their squares, cut on first use."""
        return ibug_dataset(self.test_faces, self.crop_factor, self.crop_shift, self.size)

    def at_size(self, size: int) -> IbugData:
        """The same faces and augmentation with crops of another size."""
        return _with_crops(replace(self, size=size))


def _with_crops(data: IbugData) -> IbugData:
    """Cut the training and validation crops for data's faces at data.size."""
    args = (data.crop_factor, data.crop_shift, data.size, data.grayscale)
    train, _ = ibug_dataset(data.train_faces, *args)
    val, squares = ibug_dataset(data.val_faces, *args)
    return replace(data, train=train.with_augment(data.augment), val=val, val_squares=squares)


def split(val_fraction: float = IbugConfig.val_fraction) -> tuple[list[IbugFace], list[IbugFace]]:
    """The (train, validation) faces of 300-W's training file, split by image with seed 0: the
    split of notebooks 3 and 4, the release and every check on validation faces."""
    return split_by_image(load_xml(dataset_dir(IBUG_DIR) / TRAIN_XML), val_fraction, seed=0)


def prepare(cfg: IbugConfig, max_train_faces: int | None = None) -> IbugData:
    """Load both XMLs, split by image (cfg.val_fraction, seed 0), fit the crop on the training
    split, derive the mirror permutation from its mean shape, and cut the crops."""
    folder = dataset_dir(IBUG_DIR)
    split_train, val_faces = split(cfg.val_fraction)
    crop_factor, crop_shift = fit_crop(split_train)
    perm = mirror_permutation(np.stack([f.points for f in split_train]).mean(0))
    limit = cfg.max_train_faces if max_train_faces is None else max_train_faces
    data = IbugData(
        split_train,
        split_train[:limit],
        val_faces,
        load_xml(folder / TEST_XML, need_points=False),
        crop_factor,
        crop_shift,
        cfg.crop_size,
        cfg.in_channels == 1,
        perm,
        Augment.of(perm, cfg.augmentation),
        None,
        None,
        None,
    )
    return _with_crops(data)
