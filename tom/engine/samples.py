"""The engines' audio type: mono float32 samples in [-1, 1] (16 kHz for VAD and STT)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]
