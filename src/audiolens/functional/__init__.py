"""Plain tensor functions: spectral front-ends, presets, augmentations, mutual-information estimators."""

from audiolens.functional.augment import mask_along_axis, mixup
from audiolens.functional.mutual_information import (
    MIEstimate,
    binning_estimates,
    kde_estimates,
    kde_mutual_information,
    list_estimators,
    mutual_information,
    register_estimator,
)
from audiolens.functional.presets import (
    PRESETS,
    FrontendConfig,
    get_preset,
    list_presets,
    log_mel_spectrogram,
)
from audiolens.functional.spectral import (
    amplitude_to_db,
    log_offset,
    mel_filterbank,
    mel_spectrogram,
    spectrogram,
    stft,
)

__all__ = [
    "PRESETS",
    "FrontendConfig",
    "MIEstimate",
    "amplitude_to_db",
    "binning_estimates",
    "get_preset",
    "kde_estimates",
    "kde_mutual_information",
    "list_estimators",
    "list_presets",
    "log_mel_spectrogram",
    "log_offset",
    "mask_along_axis",
    "mel_filterbank",
    "mel_spectrogram",
    "mixup",
    "mutual_information",
    "register_estimator",
    "spectrogram",
    "stft",
]
