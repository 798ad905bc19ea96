"""Reference log-mel of SPEC §1 ("mel"), written with librosa, for the golden test and the bench.

    mel_reference.py decode AUDIO OUT.f32   # any audio file -> 16 kHz mono float32 raw samples
    mel_reference.py mel IN.f32 OUT.f32     # raw samples -> [F, 80] float32 raw (frame-major)
"""
import sys

import librosa
import numpy as np
import scipy.signal


# [80, 257], made once (as cals makes its filterbank once), so bench/mel.py times only the transform.
BASIS = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=55, fmax=7600)


def log_mel(y):
    """[F, 80] log-mel on the [-4, 4] scale, frame-major."""
    y = scipy.signal.lfilter([1, -0.97], [1], y).astype(np.float32)  # y[-1] = 0
    spec = np.abs(librosa.stft(y, n_fft=512, hop_length=160, win_length=400, window="hann",
                               center=True, pad_mode="constant"))
    mel = BASIS @ spec                                   # [80, F]
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    out = np.clip(8 * (db + 100) / 100 - 4, -4, 4)
    return np.ascontiguousarray(out.T, dtype=np.float32)


def main():
    mode, src, dst = sys.argv[1:4]
    if mode == "decode":
        y, _ = librosa.load(src, sr=16000, mono=True)
        y.astype(np.float32).tofile(dst)
    elif mode == "mel":
        log_mel(np.fromfile(src, dtype=np.float32)).tofile(dst)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
