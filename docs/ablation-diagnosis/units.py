"""Compare A2L-predicted lip units with the true lip units on held-out clips, as L2F feeds them
(docs/ablation-diagnosis.md §1). Usage: units.py CHECKPOINT[:PREFIX]… (PREFIX `lip.` for the A2L
inside an L2F checkpoint); ABL_DATA is the processed folder, ABL_HELD_OUT the held-out speakers.
The A2L size is the ablation's (2 layers × 128)."""
import os, sys, glob
import numpy as np, h5py, torch
from safetensors import safe_open
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'Tests', 'ModelsTests', 'golden'))
from reference import A2L

P = os.environ.get('ABL_DATA', '/root/abl2/data/processed/ablation-6a54e7dd82')
HELD = set(os.environ.get('ABL_HELD_OUT', 's15_astronaut,s16_matthew').split(','))

def load_a2l(path, prefix=''):
    f = safe_open(path, 'pt')
    m = A2L(dim=128, layers=2, heads=4, feed_forward=512, output_dim=1024, dropout=0.1)
    sd = {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
    missing = m.load_state_dict(sd, strict=False)
    assert not missing.missing_keys, missing.missing_keys
    m.eval(); return m

def clips(speakers=HELD):
    out = []
    for sh in sorted(glob.glob(P + '/shards/*.h5')):
        name = sh.split('/')[-1]
        f = h5py.File(sh, 'r'); g = h5py.File(glob.glob(P + '/lip_units/*/' + name)[0], 'r')
        it = f['items']
        for i in range(len(it['id'])):
            if it['speaker'][i].decode() in speakers:
                a, n = int(it['first_row'][i]), int(it['row_count'][i])
                out.append((it['id'][i].decode(), f['mel'][a:a+n].reshape(n, 320).astype(np.float32),
                            g['units'][a:a+n].astype(np.float32)))
    return out

def predict_windows(m, mel, t=5, ctx=13, zero=None):
    """As L2F: windows of t rows, A2L over the window ±ctx units (fewer at clip ends)."""
    n = len(mel); out = np.zeros((n // t * t, 1024), np.float32)
    for w in range(n // t):
        lo, hi = max(0, w*t - ctx), min(n, (w+1)*t + ctx)
        x = torch.from_numpy(mel[lo:hi].copy())[None]
        if zero is not None: x[0, zero[lo:hi] > 0] = 0
        with torch.no_grad(): y = m(x)[0].numpy()
        out[w*t:(w+1)*t] = y[w*t - lo: w*t - lo + t]
    return out

def stats(pred, true):
    n = len(pred); true = true[:n]
    cos = (pred*true).sum(1) / np.linalg.norm(pred, axis=1) / np.linalg.norm(true, axis=1)
    pc, tc = pred - pred.mean(0), true - true.mean(0)           # within-clip parts
    ccos = (pc*tc).sum() / np.sqrt((pc**2).sum() * (tc**2).sum())
    dp, dt = np.diff(pred, axis=0), np.diff(true, axis=0)
    lagc = {}
    for lag in range(-6, 7):   # pred[t] vs true[t+lag]
        a = pc[max(0, -lag): n - max(0, lag)]; b = tc[max(0, lag): n - max(0, -lag)]
        lagc[lag] = (a*b).sum() / np.sqrt((a**2).sum() * (b**2).sum())
    return dict(cos=cos.mean(), within_cos=ccos, change_pred=(dp**2).sum(1).mean(), change_true=(dt**2).sum(1).mean(),
                within_var_pred=(pc**2).sum(1).mean(), within_var_true=(tc**2).sum(1).mean(),
                r2=1 - ((pred-true)**2).sum() / (tc**2).sum(), lag=lagc)

def summary(name, rows):
    keys = ['cos', 'within_cos', 'change_pred', 'change_true', 'within_var_pred', 'within_var_true', 'r2']
    s = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    lags = {l: float(np.mean([r['lag'][l] for r in rows])) for l in rows[0]['lag']}
    best = max(lags, key=lags.get)
    print(f"{name}: " + "  ".join(f"{k} {v:.4f}" for k, v in s.items()) + f"  best lag {best} ({lags[best]:.3f}; lag0 {lags[0]:.3f})")
    print("   lag corr: " + " ".join(f"{l}:{v:.3f}" for l, v in sorted(lags.items())))
    return s

if __name__ == '__main__':
    data = clips()
    print(len(data), 'held-out clips', sum(len(c[1]) for c in data), 'rows')
    models = {}
    for arg in sys.argv[1:]:
        path, _, prefix = arg.partition(':')
        models[path.split('/')[-2] + '/' + path.split('/')[-1]] = load_a2l(path, prefix)
    rng = np.random.default_rng(0)
    for name, m in models.items():
        summary(name + ' [L2F windows, audio present]', [stats(predict_windows(m, mel), u) for _, mel, u in data])
        # masked spans like pretraining: score only at masked steps vs unmasked steps
        rows_m, rows_u = [], []
        for _, mel, u in data:
            n = len(mel); mask = np.zeros(n)
            for s in range(0, n - 5, 10):
                mask[s + rng.integers(0, 5): s + rng.integers(0, 5) + 5] = 1
            p = predict_windows(m, mel, zero=mask)
            k = len(p); mm = mask[:k] > 0
            for sel, rows in ((mm, rows_m), (~mm, rows_u)):
                pp, tt = p[sel], u[:k][sel]
                rows.append(((pp*tt).sum(1) / np.linalg.norm(pp, axis=1) / np.linalg.norm(tt, axis=1)).mean())
        print(f"   with ~50% spans zeroed: cosine at masked steps {np.mean(rows_m):.4f}, at unmasked steps {np.mean(rows_u):.4f}")
    # baselines: per-clip mean of true units as prediction; global training mean
    summary('true per-clip mean (constant)', [stats(np.repeat(u.mean(0, keepdims=True), len(u)//5*5, 0), u) for _, _, u in data])
