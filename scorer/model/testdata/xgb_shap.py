"""Train small real XGBoost models and write TreeSHAP reference outputs.

Usage: /usr/bin/python3 xgb_shap.py OUTDIR

For every configuration it writes NAME.json (bst.save_model), NAME_X.tsv
(rows, '%.17g', empty = missing) and NAME_contribs.tsv (XGBoost's own
bst.predict(DMatrix, pred_contribs=True): features then bias, '%.17g').
The configurations cover missing values, integer-valued features, a
non-default base_score, lossguide growth, deep trees that split on one
feature several times on a path, and rows sitting on float32 thresholds.
Run by treeshap_xgboost_test.go.
"""
import json
import sys

import numpy as np
import xgboost as xgb

out = sys.argv[1]
rng = np.random.default_rng(20261202)
F = 6


def data(n, missing=0.15):
    X = np.empty((n, F))
    X[:, 0] = rng.integers(0, 30, n)            # integer-valued
    X[:, 1] = rng.integers(-5, 6, n)            # integer-valued, negatives
    X[:, 2] = rng.normal(0, 1, n)
    X[:, 3] = np.round(rng.uniform(0, 1, n), 1)  # not float32-exact
    X[:, 4] = rng.exponential(1000, n)
    X[:, 5] = rng.integers(0, 2, n)
    if missing:
        mask = rng.random((n, F)) < missing
        mask[:, 5] = False
        X[mask] = np.nan
    return X


def label(X):
    """A signal with interactions (x1 by x3) and informative missingness (x2)."""
    z = np.nan_to_num(X, nan=0.0)
    s = 0.2 * z[:, 0] + z[:, 1] * (z[:, 3] > 0.4) + np.cos(2 * z[:, 2]) + 0.4 * np.log1p(np.abs(z[:, 4]))
    s += 0.8 * z[:, 5] + 1.2 * np.isnan(X[:, 2]) - 5
    return (s + rng.logistic(0, 1, len(s)) > 0).astype(int)


def boundary_rows(model, X):
    """Put some values exactly on, and next to, split thresholds."""
    th = [[] for _ in range(F)]
    for t in model["learner"]["gradient_booster"]["model"]["trees"]:
        for i, l in enumerate(t["left_children"]):
            if l != -1:
                th[t["split_indices"][i]].append(np.float32(t["split_conditions"][i]))
    feats = [f for f in range(F) if th[f]]
    for r in range(len(X) // 2, len(X)):
        f = rng.choice(feats)
        t = rng.choice(th[f])
        X[r, f] = rng.choice([np.float64(t), np.nextafter(np.float64(t), -np.inf),
                              np.float64(np.nextafter(t, np.float32(-np.inf)))])
    return X


def tree_depth(t, i=0):
    l, r = t["left_children"][i], t["right_children"][i]
    return 0 if l == -1 else 1 + max(tree_depth(t, l), tree_depth(t, r))


configs = {
    "depthwise_missing": dict(tree_method="hist", max_depth=4, eta=0.3, rounds=30),
    "exact_base_score": dict(tree_method="exact", max_depth=3, eta=0.2, rounds=40, base_score=0.3),
    "lossguide": dict(tree_method="hist", grow_policy="lossguide", max_leaves=24, max_depth=0, eta=0.3, rounds=20),
    "deep_repeats": dict(tree_method="exact", max_depth=10, eta=0.5, rounds=8, min_child_weight=0.1),
    "no_missing_int": dict(tree_method="hist", max_depth=5, eta=0.3, rounds=25, base_score=0.7, missing_rate=0),
}
for name, c in configs.items():
    c = dict(c)
    rounds = c.pop("rounds")
    missing = c.pop("missing_rate", 0.15)
    Xtr = data(3000, missing)
    ytr = label(Xtr)
    params = dict(objective="binary:logistic", seed=1, **c)
    bst = xgb.train(params, xgb.DMatrix(Xtr, label=ytr, missing=np.nan), rounds)
    path = f"{out}/{name}.json"
    bst.save_model(path)
    model = json.load(open(path))
    if name == "deep_repeats":
        # A path longer than F splits must split on some feature twice.
        assert max(tree_depth(t) for t in model["learner"]["gradient_booster"]["model"]["trees"]) > F
    X = boundary_rows(model, data(400, missing))
    contribs = bst.predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True)
    with open(f"{out}/{name}_X.tsv", "w") as f:
        for row in X:
            f.write("\t".join("" if np.isnan(v) else "%.17g" % v for v in row) + "\n")
    np.savetxt(f"{out}/{name}_contribs.tsv", contribs, fmt="%.17g", delimiter="\t")
print(xgb.__version__)
