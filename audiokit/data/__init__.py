"""Training data: file discovery (folders, lists, LJSpeech, VCTK), audio datasets, samplers.

::

    from audiokit.data import AudioDataset, FileSource, MelTransform

    files = FileSource(path="data/LJSpeech-1.1").resolve()           # metadata.csv layout
    ds = AudioDataset(files, sample_rate=22050, segment_length=8192,
                      transform=MelTransform(sample_rate=22050, n_fft=1024, hop_length=256))
    item = ds[0]   # {"audio": (8192,), "mel": (80, 33), "length", "path", "index"}
"""

from audiokit.data.dataset import (
    AudioDataConfig,
    AudioDataset,
    MelTransform,
    Simulation,
    Transform,
    check_audio_files,
    collate_padded,
)
from audiokit.data.files import (
    VCTK_TEST_SPEAKERS,
    FileSource,
    holdout_split,
    list_audio_files,
    ljspeech_files,
    read_file_list,
    vctk_files,
)
from audiokit.data.sampler import DistributedBatchSampler, ShardSampler

__all__ = [
    "VCTK_TEST_SPEAKERS",
    "AudioDataConfig",
    "AudioDataset",
    "DistributedBatchSampler",
    "FileSource",
    "MelTransform",
    "ShardSampler",
    "Simulation",
    "Transform",
    "check_audio_files",
    "collate_padded",
    "holdout_split",
    "list_audio_files",
    "ljspeech_files",
    "read_file_list",
    "vctk_files",
]
