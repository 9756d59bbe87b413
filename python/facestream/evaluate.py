"""Face-recognition metrics and the statistics to compare training runs (numpy only).

Verification (pairs of photos: same person or not, judged by a cosine threshold): TAR at a
FAR, ROC AUC, and LFW's 10-fold accuracy. Identification (which training identity is this
held-out photo): rank-1 against class centres, split by how many photos the identity had.
Statistics: Student-t confidence intervals and the paired t-test, with the t distribution
computed here (regularized incomplete beta) so nothing beyond numpy is needed.
"""

import math

import numpy as np

__all__ = [
    "verification_pairs", "tar_at_far", "roc_auc", "kfold_accuracy", "verification_metrics",
    "class_centres", "rank1_correct", "BUCKETS", "bucket_name", "accuracy_by_bucket",
    "betainc", "t_cdf", "t_ppf", "mean_ci", "paired_t_test",
]

# Identity sizes (photos in the raw training set) the identification accuracy is split by: the
# method's claim is about the tail, so the tail gets its own rows.
BUCKETS = ((1, 4), (5, 19), (20, 99), (100, None))


# ----- verification -------------------------------------------------------------------------


def verification_pairs(labels, impostors, seed):
    """All genuine pairs (i < j, same label) and `impostors` seeded random pairs of different labels.

    Returns (i, j, same) as int64, int64 and bool arrays; genuine pairs first.
    """
    labels = np.asarray(labels)
    gi, gj = [], []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        a, b = np.triu_indices(len(idx), 1)
        gi.append(idx[a])
        gj.append(idx[b])
    gi = np.concatenate(gi) if gi else np.zeros(0, np.int64)
    gj = np.concatenate(gj) if gj else np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    ii, jj, have = [], [], 0
    while have < impostors:  # rejection sampling: with many identities almost every draw is kept
        a = rng.integers(0, len(labels), 2 * impostors)
        b = rng.integers(0, len(labels), 2 * impostors)
        keep = labels[a] != labels[b]
        ii.append(a[keep])
        jj.append(b[keep])
        have += int(keep.sum())
    ii = np.concatenate(ii)[:impostors] if impostors else np.zeros(0, np.int64)
    jj = np.concatenate(jj)[:impostors] if impostors else np.zeros(0, np.int64)
    same = np.concatenate([np.ones(len(gi), bool), np.zeros(len(ii), bool)])
    return np.concatenate([gi, ii]).astype(np.int64), np.concatenate([gj, jj]).astype(np.int64), same


def tar_at_far(genuine, impostor, far):
    """True-accept rate at the strictest threshold whose false-accept rate is at most `far`.

    A pair is accepted when its score is strictly above the threshold. The threshold is the
    (k+1)-th highest impostor score with k = floor(far * impostors), so at most k impostors
    pass (fewer when scores tie).
    """
    impostor = np.sort(np.asarray(impostor, np.float64))[::-1]
    k = int(math.floor(far * len(impostor) + 1e-9))
    if k >= len(impostor):
        return 1.0
    return float(np.mean(np.asarray(genuine) > impostor[k]))


def roc_auc(genuine, impostor):
    """Area under the ROC curve: P(genuine score > impostor score), ties counting one half
    (the Mann-Whitney statistic, from average ranks)."""
    genuine, impostor = np.asarray(genuine, np.float64), np.asarray(impostor, np.float64)
    scores = np.concatenate([genuine, impostor])
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    # average rank of each run of tied scores
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    n_g, n_i = len(genuine), len(impostor)
    u = ranks[:n_g].sum() - n_g * (n_g + 1) / 2.0
    return float(u / (n_g * n_i))


def _best_threshold(scores, same):
    """The threshold (pairs with score > it are called "same") that is right most often on these pairs.

    Candidates lie below the lowest score, halfway between neighbouring distinct scores, and at
    the highest; halfway rather than on a score, so that pairs of another fold scoring just above
    the fitted ones are not called "same" by accident. Ties go to the lowest threshold.
    """
    order = np.argsort(scores, kind="mergesort")
    s, y = scores[order], same[order]
    last = np.r_[s[1:] != s[:-1], True]  # last index of each run of equal scores
    # threshold just above s[i]: "different" for everything up to i, "same" after
    diff_below = np.cumsum(~y)[last]
    same_above = y.sum() - np.cumsum(y)[last]
    correct = np.r_[y.sum(), diff_below + same_above]
    distinct = s[last]
    thresholds = np.r_[distinct[0] - 1.0, (distinct[:-1] + distinct[1:]) / 2.0, distinct[-1]]
    return float(thresholds[int(np.argmax(correct))])


def kfold_accuracy(scores, same, folds=10, seed=0, fold=None):
    """Verification accuracy as LFW reports it: the pairs split into `folds` folds (a seeded
    permutation, or the given `fold` index of each pair), the threshold chosen on the other
    folds, accuracy measured on the held-out one.

    Returns (mean, std, per-fold accuracies); std is numpy's population std, as InsightFace prints.
    """
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    folds = min(folds, len(scores))  # no empty fold
    if fold is None:
        fold = np.empty(len(scores), np.int64)
        fold[np.random.default_rng(seed).permutation(len(scores))] = np.arange(len(scores)) % folds
    fold = np.asarray(fold)
    acc = []
    for f in range(folds):
        test = fold == f
        thr = _best_threshold(scores[~test], same[~test])
        acc.append(float(np.mean((scores[test] > thr) == same[test])))
    acc = np.array(acc)
    return float(acc.mean()), float(acc.std()), acc


def verification_metrics(embeddings, i, j, same, fars=(1e-2, 1e-3)):
    """Every verification figure for unit-norm embeddings and pairs (i, j, same): TAR at each FAR and
    the AUC over all pairs, the 10-fold accuracy over the genuine pairs and as many impostor pairs
    (the first ones: the sample is already random)."""
    scores = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
    genuine, impostor = scores[same], scores[~same]
    # LFW's accuracy is over as many impostor pairs as genuine ones: with all the impostors, calling
    # every pair "different" would score the impostors' share
    n = min(len(genuine), len(impostor))
    balanced = np.r_[genuine, impostor[:n]]
    mean, std, _ = kfold_accuracy(balanced, np.r_[np.ones(len(genuine), bool), np.zeros(n, bool)])
    out = {f"tar@far={far:g}": tar_at_far(genuine, impostor, far) for far in fars}
    out.update(auc=roc_auc(genuine, impostor), acc10=mean, acc10_std=std,
               genuine_pairs=int(same.sum()), impostor_pairs=int((~same).sum()))
    return out


# ----- identification -----------------------------------------------------------------------


def class_centres(embeddings, labels, classes):
    """Unit-norm mean embedding of each class 0..classes-1 (zero for a class with no photo)."""
    centres = np.zeros((classes, embeddings.shape[1]))
    np.add.at(centres, labels, embeddings)
    norm = np.linalg.norm(centres, axis=1, keepdims=True)
    return centres / np.where(norm > 0, norm, 1.0)


def rank1_correct(probes, probe_labels, centres):
    """Whether each probe's nearest centre (cosine) is its own class."""
    return np.argmax(probes @ centres.T, axis=1) == np.asarray(probe_labels)


def bucket_name(size):
    for lo, hi in BUCKETS:
        if size >= lo and (hi is None or size <= hi):
            return f"{lo}+" if hi is None else f"{lo}-{hi}"
    return "0"


def accuracy_by_bucket(correct, sizes):
    """Rank-1 accuracy per identity-size bucket, plus "all".

    `sizes` is the photo count of each probe's identity. Returns {bucket: {"accuracy", "probes"}}
    with accuracy None for a bucket without probes.
    """
    correct, sizes = np.asarray(correct, bool), np.asarray(sizes)
    names = np.array([bucket_name(int(s)) for s in sizes])
    out = {}
    for lo, hi in BUCKETS:
        name = bucket_name(lo)
        sel = names == name
        out[name] = {"accuracy": float(correct[sel].mean()) if sel.any() else None, "probes": int(sel.sum())}
    out["all"] = {"accuracy": float(correct.mean()) if len(correct) else None, "probes": int(len(correct))}
    return out


# ----- statistics ---------------------------------------------------------------------------


def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a, b, x):
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    # the continued fraction converges fast only for x < (a+1)/(a+b+2); use the symmetry beyond
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    return 1.0 - tail if t > 0 else tail


def t_ppf(p, df):
    """The p-quantile of Student's t (bisection on t_cdf, to 1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    while hi - lo > 1e-12 * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return 0.5 * (lo + hi)


def mean_ci(values, level=0.95):
    """(mean, half-width) of the Student-t confidence interval; half-width is nan with fewer than 2 values."""
    v = np.asarray([x for x in values if x is not None], np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) < 2:
        return float(v[0]), float("nan")
    half = t_ppf(0.5 + level / 2.0, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean()), float(half)


def paired_t_test(a, b, level=0.95):
    """Paired t-test of a - b over matched runs (the same seeds): mean difference, its confidence
    interval, t, two-sided p and whether the difference is significant at 1 - level."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    n = len(d)
    if n < 2:
        raise ValueError("a paired t-test needs at least two pairs")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    if se <= 1e-12 * max(1.0, abs(mean)):  # identical differences (up to rounding): no spread to test against
        t = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    else:
        t = mean / se
    p = 2.0 * (1.0 - t_cdf(abs(t), n - 1))
    half = t_ppf(0.5 + level / 2.0, n - 1) * se
    return {"diff": mean, "ci": half, "t": t, "df": n - 1, "p": p, "significant": bool(p < 1.0 - level)}
