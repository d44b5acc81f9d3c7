"""Train real XGBoost models and write parity fixtures for xgboost_test.go.

Usage: /usr/bin/python3 xgb_parity.py OUTDIR

For every configuration it writes NAME.json (bst.save_model), NAME_X.txt
(5000 rows, '%.17g', NaN = missing), NAME_pred.txt (probabilities) and
NAME_leaf.txt (pred_leaf node ids). Of the 5000 rows, 3000 are crafted to sit
on or next to float32 split thresholds: t, the float64 neighbours of t, the
float32 neighbours p < t < s, the float64 midpoints (p+t)/2 and (t+s)/2 and
their float64 neighbours. It also writes models the loader must refuse.
"""
import json
import sys

import numpy as np
import xgboost as xgb

out = sys.argv[1]
rng = np.random.default_rng(20240601)
F = 8
NAMES = ["amount_int", "delta", "z", "tenths", "expo", "flag", "tiny", "denormal"]


def data(n):
    X = np.empty((n, F))
    X[:, 0] = rng.integers(0, 30, n)           # integer-valued
    X[:, 1] = rng.integers(-5, 6, n)           # integer-valued, with 0 and negatives
    X[:, 2] = rng.normal(0, 1, n)
    X[:, 3] = np.round(rng.uniform(0, 1, n), 1)  # 0.1 steps, not float32-exact
    X[:, 4] = rng.exponential(1000, n)
    X[:, 5] = rng.integers(0, 2, n)
    X[:, 6] = rng.normal(0, 1e-3, n)
    X[:, 7] = rng.uniform(-1, 1, n) * 1e-38   # float32 subnormal range
    mask = rng.random((n, F)) < 0.15
    mask[:, 5] = False
    X[mask] = np.nan
    return X


def label(X):
    z = np.nan_to_num(X, nan=0.0)
    s = (0.3 * z[:, 0] - 3 + 1.5 * z[:, 1] * (z[:, 3] > 0.5) + np.sin(z[:, 2] * 3)
         + np.log1p(np.abs(z[:, 4])) * 0.5 - 2 + z[:, 5] + z[:, 6] * 500 + z[:, 7] * 1e38
         + np.isnan(X[:, 2]) * 1.0)
    return (s + rng.logistic(0, 1, len(s)) > 0).astype(int)


def thresholds(model):
    th = [[] for _ in range(F)]
    for t in model["learner"]["gradient_booster"]["model"]["trees"]:
        for i, l in enumerate(t["left_children"]):
            if l != -1:
                th[t["split_indices"][i]].append(t["split_conditions"][i])
    return [np.unique(np.array(a, dtype=np.float32)) for a in th]


def candidates(t):
    t = np.float32(t)
    p = np.nextafter(t, np.float32(-np.inf))
    s = np.nextafter(t, np.float32(np.inf))
    out = []
    for a, b in ((p, t), (t, s)):
        mid = (np.float64(a) + np.float64(b)) / 2
        out += [mid, np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)]
    t64 = np.float64(t)
    out += [t64, np.nextafter(t64, -np.inf), np.nextafter(t64, np.inf), np.float64(p), np.float64(s)]
    return [v for v in out if np.isfinite(v)]


def rows(model, n_random=2000, n_crafted=3000):
    X = data(n_random + n_crafted)
    th = thresholds(model)
    feats = [f for f in range(F) if len(th[f])]
    for r in range(n_random, n_random + n_crafted):
        for f in rng.choice(feats, size=rng.integers(1, 4), replace=True):
            c = candidates(rng.choice(th[f]))
            X[r, f] = c[rng.integers(len(c))]
    return X


Xtr = data(4000)
ytr = label(Xtr)
configs = {
    "hist_d6_100": dict(tree_method="hist", max_depth=6, eta=0.3, rounds=100, names=True),
    "exact_d6_50": dict(tree_method="exact", max_depth=6, eta=0.3, rounds=50, names=False),
    "hist_d4_200_bs": dict(tree_method="hist", max_depth=4, eta=0.1, rounds=200, names=True,
                           base_score=0.3, max_bin=16),
}
for name, c in configs.items():
    c = dict(c)
    rounds, names = c.pop("rounds"), c.pop("names")
    params = dict(objective="binary:logistic", seed=1, **c)
    d = xgb.DMatrix(Xtr, label=ytr, missing=np.nan, feature_names=NAMES if names else None)
    bst = xgb.train(params, d, rounds)
    path = f"{out}/{name}.json"
    bst.save_model(path)
    X = rows(json.load(open(path)))
    dt = xgb.DMatrix(X, missing=np.nan, feature_names=NAMES if names else None)
    np.savetxt(f"{out}/{name}_X.txt", X, fmt="%.17g")
    np.savetxt(f"{out}/{name}_pred.txt", bst.predict(dt), fmt="%.17g")
    np.savetxt(f"{out}/{name}_leaf.txt", bst.predict(dt, pred_leaf=True), fmt="%d")
    if name == "hist_d6_100":
        bst.save_model(f"{out}/legacy.model")   # legacy binary ("binf")
        bst.save_model(f"{out}/legacy.ubj")     # UBJSON
        open(f"{out}/raw.bin", "wb").write(bst.save_raw())

# Models the loader must refuse.
d = xgb.DMatrix(Xtr, label=ytr, missing=np.nan)
xgb.train(dict(objective="binary:logistic", booster="dart", rate_drop=0.1, max_depth=3), d, 5).save_model(f"{out}/dart.json")
xgb.train(dict(objective="binary:logistic", booster="gblinear"), d, 5).save_model(f"{out}/gblinear.json")
xgb.train(dict(objective="binary:logitraw", max_depth=3), d, 5).save_model(f"{out}/logitraw.json")
xgb.train(dict(objective="reg:squarederror", max_depth=3), d, 5).save_model(f"{out}/regression.json")
dm = xgb.DMatrix(Xtr, label=rng.integers(0, 3, len(Xtr)), missing=np.nan)
xgb.train(dict(objective="multi:softprob", num_class=3, max_depth=3), dm, 5).save_model(f"{out}/multiclass.json")
print(xgb.__version__)
