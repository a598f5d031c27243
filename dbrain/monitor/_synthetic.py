"""A BrainFlow synthetic board as a demo source (no hardware): 16 EEG channels at 250 Hz."""

from __future__ import annotations

import time

import numpy as np

from ._core import stream_info


class SyntheticSource:
    """BrainFlow's ``SYNTHETIC_BOARD``, read like :class:`~dbrain.monitor._lsl.LslSource`.

    The board's EEG values are in µV; they are handed on in volts with the board's timestamps.
    """

    def __init__(self):
        from ..utils._extras import require_extra

        require_extra("devices", "brainflow")
        from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

        BoardShim.disable_board_logger()
        self.board_id = BoardIds.SYNTHETIC_BOARD.value
        self.eeg = BoardShim.get_eeg_channels(self.board_id)
        self.ts_row = BoardShim.get_timestamp_channel(self.board_id)
        names = BoardShim.get_eeg_names(self.board_id)
        self.info = stream_info(names, ["eeg"] * len(names), BoardShim.get_sampling_rate(self.board_id))
        self.board = BoardShim(self.board_id, BrainFlowInputParams())
        self.board.prepare_session()
        self.board.start_stream()
        self.lost = False
        self.reconnections = 0

    def read(self, timeout: float = 0.1):
        time.sleep(timeout)
        data = self.board.get_board_data()
        if data.shape[1] == 0:
            return None
        return data[self.eeg] * 1e-6, np.asarray(data[self.ts_row])

    def close(self) -> None:
        try:
            self.board.stop_stream()
        finally:
            self.board.release_session()
