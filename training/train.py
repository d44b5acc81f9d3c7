#!/usr/bin/python3
"""Train fraudscore's XGBoost model from the TSV files written by package training.

Input directory holds train.f64, valid.f64, holdout.f64 (little-endian
float64 rows: label then features; NaN = missing) and params.json (with the
feature names). Output in the same
directory: model.json (XGBoost JSON), holdout_pred.txt (one probability per
holdout row, computed by XGBoost itself), golden_contribs.txt (XGBoost's
pred_contribs for the holdout rows listed in golden_idx.json: each feature's
contribution then the bias, tab-separated) and result.json.

This script only trains: the rows come from Go's feature code, so training and
serving share one implementation of every feature.
"""
import json
import sys

import numpy as np
import xgboost as xgb


def load(path, n):
    data = np.fromfile(path, dtype="<f8").reshape(-1, n + 1)
    return data[:, 0], data[:, 1:]


def main(d):
    with open(f"{d}/params.json") as f:
        cfg = json.load(f)
    names = cfg["features"]
    ytr, xtr = load(f"{d}/train.f64", len(names))
    yva, xva = load(f"{d}/valid.f64", len(names))
    yho, xho = load(f"{d}/holdout.f64", len(names))
    dtr = xgb.DMatrix(xtr, label=ytr, missing=np.nan, feature_names=names)
    dva = xgb.DMatrix(xva, label=yva, missing=np.nan, feature_names=names)
    dho = xgb.DMatrix(xho, label=yho, missing=np.nan, feature_names=names)
    params = dict(cfg["params"])
    params.setdefault("eval_metric", "aucpr")
    bst = xgb.train(params, dtr, num_boost_round=cfg["rounds"],
                    evals=[(dtr, "train"), (dva, "valid")],
                    early_stopping_rounds=cfg["early_stopping"], verbose_eval=False)
    # Keep exactly the best iteration, so the saved model is the model evaluated.
    best = bst.best_iteration + 1
    bst = bst[:best]
    bst.save_model(f"{d}/model.json")
    pred = bst.predict(dho)
    with open(f"{d}/holdout_pred.txt", "w") as f:
        for p in pred:
            f.write(repr(float(p)) + "\n")

    with open(f"{d}/golden_idx.json") as f:
        golden = json.load(f)
    contribs = bst.predict(xgb.DMatrix(xho[golden], missing=np.nan, feature_names=names), pred_contribs=True)
    with open(f"{d}/golden_contribs.txt", "w") as f:
        for row in contribs:
            f.write("\t".join(repr(float(v)) for v in row) + "\n")

    # set_param appends eval metrics (XGBoost 1.7): ask for the others too.
    bst.set_param({"eval_metric": "auc"})
    bst.set_param({"eval_metric": "logloss"})

    def ev(dm, name):
        out = {}
        for tok in bst.eval(dm, name).split("\t")[1:]:
            k, v = tok.rsplit(":", 1)
            out[k[len(name) + 1:]] = float(v)
        return out

    result = {
        "xgboost_version": xgb.__version__,
        "best_iteration": best,
        "train": ev(dtr, "train"),
        "valid": ev(dva, "valid"),
        "holdout": ev(dho, "holdout"),
        "params": params,
    }
    with open(f"{d}/result.json", "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
