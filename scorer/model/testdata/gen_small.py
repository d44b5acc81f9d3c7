"""Regenerate the small committed XGBoost fixtures (fuzz seeds, refusal tests).

Run from scorer/model/testdata with Debian's XGBoost 1.7:
    /usr/bin/python3 gen_small.py
"""
import numpy as np
import xgboost as xgb

rng = np.random.default_rng(7)
X = rng.integers(0, 10, (300, 3)).astype(float)
X[rng.random(X.shape) < 0.1] = np.nan
y = (np.nan_to_num(X[:, 0]) + rng.random(300) * 4 > 6).astype(int)
d = xgb.DMatrix(X, label=y, missing=np.nan, feature_names=["a", "b", "c"])
bst = xgb.train({"objective": "binary:logistic", "max_depth": 2, "tree_method": "hist"}, d, 3)
bst.save_model("xgb_small.json")
bst.save_model("xgb_small.model")  # legacy binary: must be refused
bst.save_model("xgb_small.ubj")    # UBJSON: must be refused
