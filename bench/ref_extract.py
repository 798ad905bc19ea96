#!/usr/bin/env python3
"""The Python reference pipeline users glue together today, with cals' parameters:
ffmpeg (audio to 16 kHz mono WAV) + OpenCV-Python (decode, Haar detection, crop) + librosa (mel)
+ h5py (output). Used by `make bench` to compare against `cals extract` on the same file.

usage: ref_extract.py VIDEO OUT.h5 [--mode full|decode|detect] [--detector haar|mtcnn]
  full    everything, writes OUT.h5
  decode  decode video at 25 fps CFR only (the floor's first half)
  detect  decode + detection only
  haar    OpenCV's Haar cascade on a grey copy with the longest side 360 (the default)
  mtcnn   facenet-pytorch's MTCNN on every full-size RGB frame, as lip-sync repositories run it
          (`MTCNN(keep_all=True).detect(frame)`, its defaults; torch's default threads)
"""
import subprocess, sys, tempfile, os
import numpy as np
import cv2

FPS = 25
SR = 16000
DETECT_SIDE = 360  # detection on a downscaled grey image, longest side


def frames_25fps(path):
    """Frame i = the source frame shown at time i/25 (latest frame with pts <= t)."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SystemExit(f"error: {path}: cannot open")
    i, last = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0  # pts of the frame just read
        while i / FPS < t and last is not None:
            yield last
            i += 1
        last = frame
    if last is not None:
        yield last


def detect_largest(cascade, frame):
    h, w = frame.shape[:2]
    s = DETECT_SIDE / max(h, w)
    small = cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    if len(faces) == 0:
        return None
    x, y, fw, fh = max(faces, key=lambda r: r[2] * r[3])
    return np.array([x / s, y / s, fw / s, fh / s])


def mtcnn_largest(mtcnn, frame):
    boxes, _ = mtcnn.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    if boxes is None:
        return None
    x1, y1, x2, y2 = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    return np.array([x1, y1, x2 - x1, y2 - y1])


def mel_units(wav, n_frames):
    import librosa, scipy.signal
    y = scipy.signal.lfilter([1, -0.97], [1], wav)
    spec = np.abs(librosa.stft(y, n_fft=512, hop_length=160, win_length=400, center=True,
                               pad_mode="constant"))
    mel = librosa.filters.mel(sr=SR, n_fft=512, n_mels=80, fmin=55, fmax=7600) @ spec
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    m = np.clip(8 * (db + 100) / 100 - 4, -4, 4).astype(np.float32)
    need = 4 * n_frames
    if m.shape[1] < need:
        m = np.pad(m, ((0, 0), (0, need - m.shape[1])), constant_values=-4)
    return m[:, :need].reshape(80, n_frames, 4).transpose(1, 0, 2).copy()


def main():
    path, out = sys.argv[1], sys.argv[2]
    options = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    mode, detector = options.get("--mode", "full"), options.get("--detector", "haar")
    if detector == "mtcnn":
        import warnings
        warnings.filterwarnings("ignore")
        from facenet_pytorch import MTCNN
        mtcnn = MTCNN(keep_all=True)
        detect = lambda frame: mtcnn_largest(mtcnn, frame)  # noqa: E731
    else:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml") \
            if hasattr(cv2, "data") else cv2.CascadeClassifier(
                "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
        detect = lambda frame: detect_largest(cascade, frame)  # noqa: E731
    if mode == "decode":
        n = sum(1 for _ in frames_25fps(path))
        print(f"frames {n}")
        return
    boxes, kept = [], []
    for frame in frames_25fps(path):
        box = detect(frame)
        boxes.append(box)
        if mode == "full":
            kept.append(frame)  # what typical scripts do: hold the frames, crop after smoothing
    if mode == "detect":
        print(f"frames {len(boxes)}")
        return
    # smooth over 5 frames where detected, crop square 128x128 with margin below the chin
    idx = [i for i, b in enumerate(boxes) if b is not None]
    crops, rows = [], []
    for i in idx:
        win = [boxes[j] for j in range(i - 2, i + 3) if 0 <= j < len(boxes) and boxes[j] is not None]
        x, y, w, h = np.mean(win, axis=0)
        side = max(w, h) * 1.0
        cx, cy = x + w / 2, y + h / 2 + 0.1 * h
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        s = int(round(side))
        f = kept[i]
        pad = cv2.copyMakeBorder(f, s, s, s, s, cv2.BORDER_REPLICATE)
        crop = pad[y0 + s:y0 + 2 * s, x0 + s:x0 + 2 * s]
        crops.append(cv2.cvtColor(cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA),
                                  cv2.COLOR_BGR2RGB))
        rows.append(i)
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = os.path.join(tmp, "a.wav")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", path, "-ac", "1", "-ar", str(SR),
                        wav_path], check=True)
        import librosa
        wav, _ = librosa.load(wav_path, sr=SR, mono=True)
    units = mel_units(wav, len(boxes))[rows]
    import h5py
    with h5py.File(out, "w") as f:
        f.create_dataset("frames", data=np.stack(crops) if crops else np.zeros((0, 128, 128, 3), np.uint8),
                         chunks=(1, 128, 128, 3), compression="gzip")
        f.create_dataset("mel", data=units)
    print(f"frames {len(boxes)} kept {len(rows)}")


if __name__ == "__main__":
    main()
