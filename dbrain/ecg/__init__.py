"""ECG in EEG recordings: R-peak detection, heart-rate trend and rhythm events."""

from ._heart_rate import compute_heart_rate, detect_r_peaks

__all__ = ["compute_heart_rate", "detect_r_peaks"]
