"""Compares a `cals extract` output with a reference extract of the same clip, with h5py.
usage: compare_extracts.py OUT.h5 REF.h5 [--audio-ref AREF.h5] [--row-offset K] [--mel-from ROW] [--silent-until ROW]
Prints JSON: rows, ref_rows, crop_mean_abs (frames, mean |difference| in 0..255 over the rows both
have, OUT's row K + i against REF's row i), mel_vs_ref (max |difference| of mel units from row --mel-from on), mel_vs_audio_ref (the
same against AREF, whose audio is the ffmpeg program's decoding of OUT's audio), silent_max (the
largest mel value before row --silent-until)."""
import argparse, json
import h5py, numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("out"); parser.add_argument("ref")
parser.add_argument("--audio-ref"); parser.add_argument("--mel-from", type=int, default=0)
parser.add_argument("--row-offset", type=int, default=0)
parser.add_argument("--silent-until", type=int, default=0)
args = parser.parse_args()

def load(path):
    with h5py.File(path, "r") as f:
        return f["frames"][...].astype(np.float64), f["mel"][...].astype(np.float64)

frames, mel = load(args.out)
ref_frames, ref_mel = load(args.ref)
k = args.row_offset
n = min(len(frames) - k, len(ref_frames))
report = {"rows": len(frames), "ref_rows": len(ref_frames),
          "crop_mean_abs": float(np.abs(frames[k:k + n] - ref_frames[:n]).mean()),
          "mel_vs_ref": float(np.abs(mel[k + args.mel_from:k + n] - ref_mel[args.mel_from:n]).max())}
if args.audio_ref:
    _, audio_mel = load(args.audio_ref)
    m = min(len(mel), len(audio_mel))
    report["mel_vs_audio_ref"] = float(np.abs(mel[args.mel_from:m] - audio_mel[args.mel_from:m]).max())
if args.silent_until:
    report["silent_max"] = float(mel[:args.silent_until].max())
print(json.dumps(report))
