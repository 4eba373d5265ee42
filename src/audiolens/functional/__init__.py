"""Plain tensor functions.

Spectral and MRMF front-ends, presets, augmentations (supervised and self-supervised), MI
estimators, CAT's causal losses, third-octave analysis and transcoding.
"""

from audiolens.functional.augment import mask_along_axis, mixup
from audiolens.functional.causal import causal_loss, counterfactual_values, pns_lower_bound, reconstruction_loss
from audiolens.functional.mrmf import MRMF_PRESETS, MRMFConfig, get_mrmf_preset, mrmf_filterbanks, mrmf_spectrogram
from audiolens.functional.mutual_information import (
    MIEstimate,
    binning_estimates,
    kde_estimates,
    kde_mutual_information,
    kde_tile_plan,
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
    linear_filterbank,
    log_offset,
    mel_filterbank,
    mel_spectrogram,
    spectrogram,
    stft,
)
from audiolens.functional.ssl_augment import (
    add_gaussian_noise,
    batch_normalize,
    bicubic_crop_matrix,
    gaussian_noise_interpolation,
    log_mixup_exp,
    mix_back,
    random_gain,
    random_linear_fader,
    random_resize_crop,
    time_mask,
)
from audiolens.functional.third_octave import (
    THIRD_OCTAVE_PRESETS,
    ThirdOctaveConfig,
    get_third_octave_preset,
    third_octave_band_matrix,
    third_octave_bands,
    third_octave_spectrogram,
)
from audiolens.functional.transcode import (
    pinv_band_matrix,
    pinv_mel_filterbank,
    pinv_transcode,
    ptopa_fc,
    ptopa_fc_per_class,
    softmax_bce,
    target_frames,
    teacher_kl,
)

__all__ = [
    "MRMF_PRESETS",
    "PRESETS",
    "THIRD_OCTAVE_PRESETS",
    "MRMFConfig",
    "ThirdOctaveConfig",
    "FrontendConfig",
    "MIEstimate",
    "add_gaussian_noise",
    "amplitude_to_db",
    "batch_normalize",
    "bicubic_crop_matrix",
    "binning_estimates",
    "causal_loss",
    "counterfactual_values",
    "gaussian_noise_interpolation",
    "get_mrmf_preset",
    "get_preset",
    "get_third_octave_preset",
    "kde_estimates",
    "kde_mutual_information",
    "kde_tile_plan",
    "linear_filterbank",
    "list_estimators",
    "list_presets",
    "log_mel_spectrogram",
    "log_mixup_exp",
    "log_offset",
    "mask_along_axis",
    "mel_filterbank",
    "mel_spectrogram",
    "mix_back",
    "mixup",
    "mrmf_filterbanks",
    "mrmf_spectrogram",
    "mutual_information",
    "pinv_band_matrix",
    "pinv_mel_filterbank",
    "pinv_transcode",
    "pns_lower_bound",
    "ptopa_fc",
    "ptopa_fc_per_class",
    "random_gain",
    "random_linear_fader",
    "random_resize_crop",
    "reconstruction_loss",
    "register_estimator",
    "softmax_bce",
    "spectrogram",
    "stft",
    "target_frames",
    "teacher_kl",
    "third_octave_band_matrix",
    "third_octave_bands",
    "third_octave_spectrogram",
    "time_mask",
]
